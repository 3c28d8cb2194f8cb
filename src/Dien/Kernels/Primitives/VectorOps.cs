using System.Numerics;
using System.Runtime.CompilerServices;
#if NET9_0_OR_GREATER
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
#endif

namespace Dien.Kernels.Primitives;

/// <summary>Small register-blocked vector loops over pointers, generic over float and double.</summary>
internal static unsafe class VectorOps<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Lanes per <see cref="Vector{T}"/>.</summary>
    public static int Lanes => Vector<T>.Count;

    /// <summary>Rounds <paramref name="n"/> up to a whole number of vectors.</summary>
    public static int Pad(int n) => (n + Vector<T>.Count - 1) / Vector<T>.Count * Vector<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Load(T* p) => Unsafe.ReadUnaligned<Vector<T>>(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(T* p, Vector<T> v) => Unsafe.WriteUnaligned(p, v);

    /// <summary>a * b + c, fused where the hardware has it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> MulAdd(Vector<T> a, Vector<T> b, Vector<T> c)
    {
#if NET9_0_OR_GREATER
        if (Fma.IsSupported || AdvSimd.IsSupported)
        {
            if (typeof(T) == typeof(float))
            {
                return Vector.FusedMultiplyAdd(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>();
            }

            if (typeof(T) == typeof(double))
            {
                return Vector.FusedMultiplyAdd(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>();
            }
        }
#endif
        return (a * b) + c;
    }

    /// <summary>
    /// e^x per lane. float: <c>ExpSingle</c> (.NET 9+); double: the runtime's vectorized exponential
    /// (.NET 9+); else per lane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Exp(Vector<T> x)
    {
#if NET9_0_OR_GREATER
        if (typeof(T) == typeof(float))
        {
            return ExpSingle(x.As<T, float>()).As<float, T>();
        }

        if (typeof(T) == typeof(double))
        {
            return Vector.Exp(x.As<T, double>()).As<double, T>();
        }
#endif
        Span<T> lanes = stackalloc T[Vector<T>.Count];
        x.CopyTo(lanes);
        for (int i = 0; i < lanes.Length; i++)
        {
            lanes[i] = T.Exp(lanes[i]);
        }

        return new Vector<T>(lanes);
    }

#if NET9_0_OR_GREATER
    /// <summary>
    /// e^x for float lanes to about 2 ulp: x = n ln 2 + r with |r| &lt;= ln 2 / 2, e^r by a degree-6 polynomial
    /// (Cephes' expf coefficients), 2^n put into the exponent bits (so n stays in -126 .. 127). 0 below -87.34
    /// (where e^x is subnormal), +inf above 88.38 (e^x &gt; 2.4e38), NaN stays NaN.
    /// </summary>
    /// <remarks>
    /// Why not <see cref="Vector.Exp(Vector{float})"/>: the runtime widens float lanes to double for its
    /// polynomial, about three times the work; the kernels' sigmoids and tanhs (millions per training step)
    /// need float accuracy only.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector<float> ExpSingle(Vector<float> x)
    {
        var high = new Vector<float>(88.3762626647949f);
        var low = new Vector<float>(-87.3365447f);
        var clamped = Vector.MinNative(Vector.MaxNative(x, low), high);
        var n = Vector.Floor(Vector.FusedMultiplyAdd(clamped, new Vector<float>(1.44269504088896341f), new Vector<float>(0.5f)));
        var r = Vector.FusedMultiplyAdd(n, new Vector<float>(-0.693359375f), clamped);
        r = Vector.FusedMultiplyAdd(n, new Vector<float>(2.12194440e-4f), r);
        var p = new Vector<float>(1.9875691500E-4f);
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(1.3981999507E-3f));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(8.3334519073E-3f));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(4.1665795894E-2f));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(1.6666665459E-1f));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(5.0000001201E-1f));
        p = Vector.FusedMultiplyAdd(p, r * r, r + Vector<float>.One);
        var scale = Vector.ShiftLeft(Vector.ConvertToInt32(n) + new Vector<int>(127), 23).As<int, float>();
        var result = p * scale;
        result = Vector.ConditionalSelect(Vector.LessThan(x, low), Vector<float>.Zero, result);
        result = Vector.ConditionalSelect(Vector.GreaterThan(x, high), new Vector<float>(float.PositiveInfinity), result);
        return Vector.ConditionalSelect(Vector.Equals(x, x), result, x);
    }
#endif

    /// <summary>p[0 .. n) = sigmoid(p[0 .. n)) = 1 / (1 + e^-p), n a multiple of the vector width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SigmoidInPlace(T* p, int n)
    {
        for (int k = 0; k < n; k += Vector<T>.Count)
        {
            Store(p + k, Vector<T>.One / (Vector<T>.One + Exp(-Load(p + k))));
        }
    }

    /// <summary>p[0 .. n) = tanh(p[0 .. n)) = 1 - 2 / (e^2p + 1), saturating correctly at both ends.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TanhInPlace(T* p, int n)
    {
        var one = Vector<T>.One;
        var two = one + one;
        for (int k = 0; k < n; k += Vector<T>.Count)
        {
            Store(p + k, one - (two / (Exp(two * Load(p + k)) + one)));
        }
    }

    /// <summary>
    /// acc[0 .. width) += sum over i &lt; rows of coeffs[i] * matrix[i, 0 .. width), matrix row-major with
    /// row stride <paramref name="width"/> (a multiple of the vector width). This is the per-step
    /// [1, rows] x [rows, width] product of a recurrence; blocks of 8, 4 and 1 columns keep the
    /// accumulators in registers, and several partial sums hide the multiply-add latency.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AccumulateRows(T* coeffs, int rows, T* matrix, int width, T* acc)
    {
        int lanes = Vector<T>.Count;
        int vectors = width / lanes;
        int v = 0;
        for (; v + 8 <= vectors; v += 8)
        {
            T* a = acc + (v * lanes);
            Vector<T> a0 = Load(a), a1 = Load(a + lanes), a2 = Load(a + (2 * lanes)), a3 = Load(a + (3 * lanes));
            Vector<T> a4 = Load(a + (4 * lanes)), a5 = Load(a + (5 * lanes)), a6 = Load(a + (6 * lanes)), a7 = Load(a + (7 * lanes));
            T* m = matrix + (v * lanes);
            for (int i = 0; i < rows; i++, m += width)
            {
                var c = new Vector<T>(coeffs[i]);
                a0 = MulAdd(Load(m), c, a0);
                a1 = MulAdd(Load(m + lanes), c, a1);
                a2 = MulAdd(Load(m + (2 * lanes)), c, a2);
                a3 = MulAdd(Load(m + (3 * lanes)), c, a3);
                a4 = MulAdd(Load(m + (4 * lanes)), c, a4);
                a5 = MulAdd(Load(m + (5 * lanes)), c, a5);
                a6 = MulAdd(Load(m + (6 * lanes)), c, a6);
                a7 = MulAdd(Load(m + (7 * lanes)), c, a7);
            }

            Store(a, a0); Store(a + lanes, a1); Store(a + (2 * lanes), a2); Store(a + (3 * lanes), a3);
            Store(a + (4 * lanes), a4); Store(a + (5 * lanes), a5); Store(a + (6 * lanes), a6); Store(a + (7 * lanes), a7);
        }

        for (; v + 4 <= vectors; v += 4)
        {
            // Two partial sums per column (even and odd rows).
            T* a = acc + (v * lanes);
            Vector<T> a0 = Load(a), a1 = Load(a + lanes), a2 = Load(a + (2 * lanes)), a3 = Load(a + (3 * lanes));
            Vector<T> b0 = Vector<T>.Zero, b1 = Vector<T>.Zero, b2 = Vector<T>.Zero, b3 = Vector<T>.Zero;
            T* m = matrix + (v * lanes);
            int i = 0;
            for (; i + 2 <= rows; i += 2, m += 2 * width)
            {
                var c = new Vector<T>(coeffs[i]);
                var d = new Vector<T>(coeffs[i + 1]);
                T* n = m + width;
                a0 = MulAdd(Load(m), c, a0);
                a1 = MulAdd(Load(m + lanes), c, a1);
                a2 = MulAdd(Load(m + (2 * lanes)), c, a2);
                a3 = MulAdd(Load(m + (3 * lanes)), c, a3);
                b0 = MulAdd(Load(n), d, b0);
                b1 = MulAdd(Load(n + lanes), d, b1);
                b2 = MulAdd(Load(n + (2 * lanes)), d, b2);
                b3 = MulAdd(Load(n + (3 * lanes)), d, b3);
            }

            if (i < rows)
            {
                var c = new Vector<T>(coeffs[i]);
                a0 = MulAdd(Load(m), c, a0);
                a1 = MulAdd(Load(m + lanes), c, a1);
                a2 = MulAdd(Load(m + (2 * lanes)), c, a2);
                a3 = MulAdd(Load(m + (3 * lanes)), c, a3);
            }

            Store(a, a0 + b0); Store(a + lanes, a1 + b1); Store(a + (2 * lanes), a2 + b2); Store(a + (3 * lanes), a3 + b3);
        }

        for (; v < vectors; v++)
        {
            // Four partial sums over the rows.
            T* a = acc + (v * lanes);
            Vector<T> s0 = Load(a), s1 = Vector<T>.Zero, s2 = Vector<T>.Zero, s3 = Vector<T>.Zero;
            T* m = matrix + (v * lanes);
            int i = 0;
            for (; i + 4 <= rows; i += 4, m += 4 * width)
            {
                s0 = MulAdd(Load(m), new Vector<T>(coeffs[i]), s0);
                s1 = MulAdd(Load(m + width), new Vector<T>(coeffs[i + 1]), s1);
                s2 = MulAdd(Load(m + (2 * width)), new Vector<T>(coeffs[i + 2]), s2);
                s3 = MulAdd(Load(m + (3 * width)), new Vector<T>(coeffs[i + 3]), s3);
            }

            for (; i < rows; i++, m += width)
            {
                s0 = MulAdd(Load(m), new Vector<T>(coeffs[i]), s0);
            }

            Store(a, (s0 + s1) + (s2 + s3));
        }
    }

    /// <summary>
    /// y[i, 0 .. width) += sum over k &lt; depth of a(i, k) * m[k, 0 .. width) for i &lt; rows: a small matrix
    /// product with the left factor read through strides (a(i, k) = a[i * rowStride + k * depthStride], so a
    /// transposed factor costs nothing) and m row-major with row stride <paramref name="width"/>, a multiple
    /// of the vector width; y has row stride <paramref name="yStride"/>. Blocks of 6 rows by 2 vectors keep
    /// 12 accumulators in registers (enough to cover the multiply-add latency on two ports) and use each
    /// loaded vector of m six times; leftover rows go in blocks of 4, then one by one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MultiplyAccumulate(T* a, int rowStride, int depthStride, int rows, int depth, T* m, int width, T* y, int yStride)
    {
        int lanes = Vector<T>.Count;
        int i = 0;
        for (; i + 6 <= rows; i += 6)
        {
            T* a0 = a + ((long)i * rowStride), a1 = a0 + rowStride, a2 = a1 + rowStride, a3 = a2 + rowStride, a4 = a3 + rowStride, a5 = a4 + rowStride;
            T* y0 = y + ((long)i * yStride), y1 = y0 + yStride, y2 = y1 + yStride, y3 = y2 + yStride, y4 = y3 + yStride, y5 = y4 + yStride;
            int v = 0;
            for (; v + (2 * lanes) <= width; v += 2 * lanes)
            {
                Vector<T> c00 = Load(y0 + v), c01 = Load(y0 + v + lanes), c10 = Load(y1 + v), c11 = Load(y1 + v + lanes);
                Vector<T> c20 = Load(y2 + v), c21 = Load(y2 + v + lanes), c30 = Load(y3 + v), c31 = Load(y3 + v + lanes);
                Vector<T> c40 = Load(y4 + v), c41 = Load(y4 + v + lanes), c50 = Load(y5 + v), c51 = Load(y5 + v + lanes);
                T* mk = m + v;
                for (long k = 0, ak = 0; k < depth; k++, ak += depthStride, mk += width)
                {
                    var m0 = Load(mk);
                    var m1 = Load(mk + lanes);
                    var b = new Vector<T>(a0[ak]);
                    c00 = MulAdd(m0, b, c00);
                    c01 = MulAdd(m1, b, c01);
                    b = new Vector<T>(a1[ak]);
                    c10 = MulAdd(m0, b, c10);
                    c11 = MulAdd(m1, b, c11);
                    b = new Vector<T>(a2[ak]);
                    c20 = MulAdd(m0, b, c20);
                    c21 = MulAdd(m1, b, c21);
                    b = new Vector<T>(a3[ak]);
                    c30 = MulAdd(m0, b, c30);
                    c31 = MulAdd(m1, b, c31);
                    b = new Vector<T>(a4[ak]);
                    c40 = MulAdd(m0, b, c40);
                    c41 = MulAdd(m1, b, c41);
                    b = new Vector<T>(a5[ak]);
                    c50 = MulAdd(m0, b, c50);
                    c51 = MulAdd(m1, b, c51);
                }

                Store(y0 + v, c00); Store(y0 + v + lanes, c01); Store(y1 + v, c10); Store(y1 + v + lanes, c11);
                Store(y2 + v, c20); Store(y2 + v + lanes, c21); Store(y3 + v, c30); Store(y3 + v + lanes, c31);
                Store(y4 + v, c40); Store(y4 + v + lanes, c41); Store(y5 + v, c50); Store(y5 + v + lanes, c51);
            }

            if (v < width)
            {
                Vector<T> c0 = Load(y0 + v), c1 = Load(y1 + v), c2 = Load(y2 + v), c3 = Load(y3 + v), c4 = Load(y4 + v), c5 = Load(y5 + v);
                T* mk = m + v;
                for (long k = 0, ak = 0; k < depth; k++, ak += depthStride, mk += width)
                {
                    var m0 = Load(mk);
                    c0 = MulAdd(m0, new Vector<T>(a0[ak]), c0);
                    c1 = MulAdd(m0, new Vector<T>(a1[ak]), c1);
                    c2 = MulAdd(m0, new Vector<T>(a2[ak]), c2);
                    c3 = MulAdd(m0, new Vector<T>(a3[ak]), c3);
                    c4 = MulAdd(m0, new Vector<T>(a4[ak]), c4);
                    c5 = MulAdd(m0, new Vector<T>(a5[ak]), c5);
                }

                Store(y0 + v, c0); Store(y1 + v, c1); Store(y2 + v, c2); Store(y3 + v, c3); Store(y4 + v, c4); Store(y5 + v, c5);
            }
        }

        for (; i + 4 <= rows; i += 4)
        {
            T* a0 = a + ((long)i * rowStride), a1 = a0 + rowStride, a2 = a1 + rowStride, a3 = a2 + rowStride;
            T* y0 = y + ((long)i * yStride), y1 = y0 + yStride, y2 = y1 + yStride, y3 = y2 + yStride;
            int v = 0;
            for (; v + (2 * lanes) <= width; v += 2 * lanes)
            {
                Vector<T> c00 = Load(y0 + v), c01 = Load(y0 + v + lanes), c10 = Load(y1 + v), c11 = Load(y1 + v + lanes);
                Vector<T> c20 = Load(y2 + v), c21 = Load(y2 + v + lanes), c30 = Load(y3 + v), c31 = Load(y3 + v + lanes);
                T* mk = m + v;
                for (long k = 0, ak = 0; k < depth; k++, ak += depthStride, mk += width)
                {
                    var m0 = Load(mk);
                    var m1 = Load(mk + lanes);
                    var b = new Vector<T>(a0[ak]);
                    c00 = MulAdd(m0, b, c00);
                    c01 = MulAdd(m1, b, c01);
                    b = new Vector<T>(a1[ak]);
                    c10 = MulAdd(m0, b, c10);
                    c11 = MulAdd(m1, b, c11);
                    b = new Vector<T>(a2[ak]);
                    c20 = MulAdd(m0, b, c20);
                    c21 = MulAdd(m1, b, c21);
                    b = new Vector<T>(a3[ak]);
                    c30 = MulAdd(m0, b, c30);
                    c31 = MulAdd(m1, b, c31);
                }

                Store(y0 + v, c00); Store(y0 + v + lanes, c01); Store(y1 + v, c10); Store(y1 + v + lanes, c11);
                Store(y2 + v, c20); Store(y2 + v + lanes, c21); Store(y3 + v, c30); Store(y3 + v + lanes, c31);
            }

            if (v < width)
            {
                Vector<T> c0 = Load(y0 + v), c1 = Load(y1 + v), c2 = Load(y2 + v), c3 = Load(y3 + v);
                T* mk = m + v;
                for (long k = 0, ak = 0; k < depth; k++, ak += depthStride, mk += width)
                {
                    var m0 = Load(mk);
                    c0 = MulAdd(m0, new Vector<T>(a0[ak]), c0);
                    c1 = MulAdd(m0, new Vector<T>(a1[ak]), c1);
                    c2 = MulAdd(m0, new Vector<T>(a2[ak]), c2);
                    c3 = MulAdd(m0, new Vector<T>(a3[ak]), c3);
                }

                Store(y0 + v, c0); Store(y1 + v, c1); Store(y2 + v, c2); Store(y3 + v, c3);
            }
        }

        for (; i < rows; i++)
        {
            T* ai = a + ((long)i * rowStride);
            T* yi = y + ((long)i * yStride);
            for (int v = 0; v < width; v += lanes)
            {
                Vector<T> c0 = Load(yi + v), c1 = Vector<T>.Zero;
                T* mk = m + v;
                long k = 0, ak = 0;
                for (; k + 2 <= depth; k += 2, ak += 2L * depthStride, mk += 2 * width)
                {
                    c0 = MulAdd(Load(mk), new Vector<T>(ai[ak]), c0);
                    c1 = MulAdd(Load(mk + width), new Vector<T>(ai[ak + depthStride]), c1);
                }

                if (k < depth)
                {
                    c0 = MulAdd(Load(mk), new Vector<T>(ai[ak]), c0);
                }

                Store(yi + v, c0 + c1);
            }
        }
    }

    /// <summary>dst[0 .. n) += src[0 .. n), n a multiple of the vector width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddInPlace(T* dst, T* src, int n)
    {
        for (int k = 0; k < n; k += Vector<T>.Count)
        {
            Store(dst + k, Load(dst + k) + Load(src + k));
        }
    }
}
