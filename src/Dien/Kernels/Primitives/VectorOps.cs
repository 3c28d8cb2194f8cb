using System.Numerics;
using System.Runtime.CompilerServices;
#if NET9_0_OR_GREATER
using System.Runtime.Intrinsics;
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
    public static int Pad(int n) => (n + PadLanes - 1) / PadLanes * PadLanes;

    /// <summary>The lanes <see cref="Pad"/> rounds to: the widest registers the products use.</summary>
    public static int PadWidth => PadLanes;

#if NET9_0_OR_GREATER
    private static readonly int PadLanes = WideVectors<T>.Enabled ? WideVectors<T>.Count : Vector<T>.Count;
#else
    private static readonly int PadLanes = Vector<T>.Count;
#endif

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
        var high = new Vector<float>(ExpConstants.High);
        var low = new Vector<float>(ExpConstants.Low);
        var clamped = Vector.MinNative(Vector.MaxNative(x, low), high);
        var n = Vector.Floor(Vector.FusedMultiplyAdd(clamped, new Vector<float>(ExpConstants.Log2E), new Vector<float>(0.5f)));
        var r = Vector.FusedMultiplyAdd(n, new Vector<float>(ExpConstants.Ln2High), clamped);
        r = Vector.FusedMultiplyAdd(n, new Vector<float>(ExpConstants.Ln2Low), r);
        var p = new Vector<float>(ExpConstants.P0);
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(ExpConstants.P1));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(ExpConstants.P2));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(ExpConstants.P3));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(ExpConstants.P4));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(ExpConstants.P5));
        p = Vector.FusedMultiplyAdd(p, r * r, r + Vector<float>.One);
        var scale = Vector.ShiftLeft(Vector.ConvertToInt32(n) + new Vector<int>(127), 23).As<int, float>();
        var result = p * scale;
        result = Vector.ConditionalSelect(Vector.LessThan(x, low), Vector<float>.Zero, result);
        result = Vector.ConditionalSelect(Vector.GreaterThan(x, high), new Vector<float>(float.PositiveInfinity), result);
        return Vector.ConditionalSelect(Vector.Equals(x, x), result, x);
    }

    /// <summary>
    /// <see cref="ExpSingle(Vector{float})"/> in 512-bit registers: the same operations lane by lane, so the same
    /// bits, at twice the lanes per instruction where AVX-512 runs (<see cref="WideVectors{T}.Enabled"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> ExpSingle(Vector512<float> x)
    {
        var high = Vector512.Create(ExpConstants.High);
        var low = Vector512.Create(ExpConstants.Low);
        var clamped = Vector512.MinNative(Vector512.MaxNative(x, low), high);
        var n = Vector512.Floor(Vector512.FusedMultiplyAdd(clamped, Vector512.Create(ExpConstants.Log2E), Vector512.Create(0.5f)));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(ExpConstants.Ln2High), clamped);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(ExpConstants.Ln2Low), r);
        var p = Vector512.Create(ExpConstants.P0);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(ExpConstants.P1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(ExpConstants.P2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(ExpConstants.P3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(ExpConstants.P4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(ExpConstants.P5));
        p = Vector512.FusedMultiplyAdd(p, r * r, r + Vector512<float>.One);
        var scale = Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();
        var result = p * scale;
        result = Vector512.ConditionalSelect(Vector512.LessThan(x, low), Vector512<float>.Zero, result);
        result = Vector512.ConditionalSelect(Vector512.GreaterThan(x, high), Vector512.Create(float.PositiveInfinity), result);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), result, x);
    }
#endif

    /// <summary>p[0 .. n) = sigmoid(p[0 .. n)) = 1 / (1 + e^-p), n a multiple of the vector width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SigmoidInPlace(T* p, int n)
    {
        int k = 0;
#if NET9_0_OR_GREATER
        if (typeof(T) == typeof(float) && WideVectors<float>.Enabled)
        {
            var one = Vector512<float>.One;
            for (float* f = (float*)p; k + Vector512<float>.Count <= n; k += Vector512<float>.Count)
            {
                Vector512.Store(one / (one + ExpSingle(-Vector512.Load(f + k))), f + k);
            }
        }
#endif
        for (; k < n; k += Vector<T>.Count)
        {
            Store(p + k, Vector<T>.One / (Vector<T>.One + Exp(-Load(p + k))));
        }
    }

    /// <summary>p[0 .. n) = tanh(p[0 .. n)) = 1 - 2 / (e^2p + 1), saturating correctly at both ends.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TanhInPlace(T* p, int n)
    {
        int k = 0;
#if NET9_0_OR_GREATER
        if (typeof(T) == typeof(float) && WideVectors<float>.Enabled)
        {
            var wideOne = Vector512<float>.One;
            var wideTwo = wideOne + wideOne;
            for (float* f = (float*)p; k + Vector512<float>.Count <= n; k += Vector512<float>.Count)
            {
                Vector512.Store(wideOne - (wideTwo / (ExpSingle(wideTwo * Vector512.Load(f + k)) + wideOne)), f + k);
            }
        }
#endif
        var one = Vector<T>.One;
        var two = one + one;
        for (; k < n; k += Vector<T>.Count)
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
#if NET9_0_OR_GREATER
        if (WideVectors<T>.Enabled)
        {
            int wide = width / WideVectors<T>.Count * WideVectors<T>.Count;
            AccumulateRows<WideVectors<T>, System.Runtime.Intrinsics.Vector512<T>>(coeffs, rows, matrix, width, acc, 0, wide);
            if (wide < width)
            {
                AccumulateRows<NarrowVectors<T>, Vector<T>>(coeffs, rows, matrix, width, acc, wide, width);
            }

            return;
        }
#endif
        AccumulateRows<NarrowVectors<T>, Vector<T>>(coeffs, rows, matrix, width, acc, 0, width);
    }

    /// <summary>
    /// <see cref="AccumulateRows(T*, int, T*, int, T*)"/> over columns [from, to) only, a whole number of
    /// <typeparamref name="TWidth"/> registers, in registers of that width.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void AccumulateRows<TWidth, TVector>(T* coeffs, int rows, T* matrix, int width, T* acc, int from, int to)
        where TWidth : struct, IVectorWidth<TVector, T>
        where TVector : struct
    {
        int lanes = TWidth.Count;
        int vectors = (to - from) / lanes;
        int v = 0;
        acc += from;
        matrix += from;
        for (; v + 8 <= vectors; v += 8)
        {
            T* a = acc + (v * lanes);
            TVector a0 = TWidth.Load(a), a1 = TWidth.Load(a + lanes), a2 = TWidth.Load(a + (2 * lanes)), a3 = TWidth.Load(a + (3 * lanes));
            TVector a4 = TWidth.Load(a + (4 * lanes)), a5 = TWidth.Load(a + (5 * lanes)), a6 = TWidth.Load(a + (6 * lanes)), a7 = TWidth.Load(a + (7 * lanes));
            T* m = matrix + (v * lanes);
            for (int i = 0; i < rows; i++, m += width)
            {
                var c = TWidth.Broadcast(coeffs[i]);
                a0 = TWidth.MulAdd(TWidth.Load(m), c, a0);
                a1 = TWidth.MulAdd(TWidth.Load(m + lanes), c, a1);
                a2 = TWidth.MulAdd(TWidth.Load(m + (2 * lanes)), c, a2);
                a3 = TWidth.MulAdd(TWidth.Load(m + (3 * lanes)), c, a3);
                a4 = TWidth.MulAdd(TWidth.Load(m + (4 * lanes)), c, a4);
                a5 = TWidth.MulAdd(TWidth.Load(m + (5 * lanes)), c, a5);
                a6 = TWidth.MulAdd(TWidth.Load(m + (6 * lanes)), c, a6);
                a7 = TWidth.MulAdd(TWidth.Load(m + (7 * lanes)), c, a7);
            }

            TWidth.Store(a, a0); TWidth.Store(a + lanes, a1); TWidth.Store(a + (2 * lanes), a2); TWidth.Store(a + (3 * lanes), a3);
            TWidth.Store(a + (4 * lanes), a4); TWidth.Store(a + (5 * lanes), a5); TWidth.Store(a + (6 * lanes), a6); TWidth.Store(a + (7 * lanes), a7);
        }

        for (; v + 4 <= vectors; v += 4)
        {
            // Two partial sums per column (even and odd rows).
            T* a = acc + (v * lanes);
            TVector a0 = TWidth.Load(a), a1 = TWidth.Load(a + lanes), a2 = TWidth.Load(a + (2 * lanes)), a3 = TWidth.Load(a + (3 * lanes));
            TVector b0 = TWidth.Zero, b1 = TWidth.Zero, b2 = TWidth.Zero, b3 = TWidth.Zero;
            T* m = matrix + (v * lanes);
            int i = 0;
            for (; i + 2 <= rows; i += 2, m += 2 * width)
            {
                var c = TWidth.Broadcast(coeffs[i]);
                var d = TWidth.Broadcast(coeffs[i + 1]);
                T* n = m + width;
                a0 = TWidth.MulAdd(TWidth.Load(m), c, a0);
                a1 = TWidth.MulAdd(TWidth.Load(m + lanes), c, a1);
                a2 = TWidth.MulAdd(TWidth.Load(m + (2 * lanes)), c, a2);
                a3 = TWidth.MulAdd(TWidth.Load(m + (3 * lanes)), c, a3);
                b0 = TWidth.MulAdd(TWidth.Load(n), d, b0);
                b1 = TWidth.MulAdd(TWidth.Load(n + lanes), d, b1);
                b2 = TWidth.MulAdd(TWidth.Load(n + (2 * lanes)), d, b2);
                b3 = TWidth.MulAdd(TWidth.Load(n + (3 * lanes)), d, b3);
            }

            if (i < rows)
            {
                var c = TWidth.Broadcast(coeffs[i]);
                a0 = TWidth.MulAdd(TWidth.Load(m), c, a0);
                a1 = TWidth.MulAdd(TWidth.Load(m + lanes), c, a1);
                a2 = TWidth.MulAdd(TWidth.Load(m + (2 * lanes)), c, a2);
                a3 = TWidth.MulAdd(TWidth.Load(m + (3 * lanes)), c, a3);
            }

            TWidth.Store(a, TWidth.Add(a0, b0)); TWidth.Store(a + lanes, TWidth.Add(a1, b1)); TWidth.Store(a + (2 * lanes), TWidth.Add(a2, b2)); TWidth.Store(a + (3 * lanes), TWidth.Add(a3, b3));
        }

        for (; v < vectors; v++)
        {
            // Four partial sums over the rows.
            T* a = acc + (v * lanes);
            TVector s0 = TWidth.Load(a), s1 = TWidth.Zero, s2 = TWidth.Zero, s3 = TWidth.Zero;
            T* m = matrix + (v * lanes);
            int i = 0;
            for (; i + 4 <= rows; i += 4, m += 4 * width)
            {
                s0 = TWidth.MulAdd(TWidth.Load(m), TWidth.Broadcast(coeffs[i]), s0);
                s1 = TWidth.MulAdd(TWidth.Load(m + width), TWidth.Broadcast(coeffs[i + 1]), s1);
                s2 = TWidth.MulAdd(TWidth.Load(m + (2 * width)), TWidth.Broadcast(coeffs[i + 2]), s2);
                s3 = TWidth.MulAdd(TWidth.Load(m + (3 * width)), TWidth.Broadcast(coeffs[i + 3]), s3);
            }

            for (; i < rows; i++, m += width)
            {
                s0 = TWidth.MulAdd(TWidth.Load(m), TWidth.Broadcast(coeffs[i]), s0);
            }

            TWidth.Store(a, TWidth.Add(TWidth.Add(s0, s1), TWidth.Add(s2, s3)));
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
        => MultiplyAccumulateColumns(a, rowStride, depthStride, rows, depth, m, width, y, yStride, width);

    /// <summary>
    /// <see cref="MultiplyAccumulate(T*, int, int, int, int, T*, int, T*, int)"/> over the first
    /// <paramref name="columns"/> columns of y only (a multiple of the vector width); m keeps its row stride
    /// <paramref name="width"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MultiplyAccumulateColumns(T* a, int rowStride, int depthStride, int rows, int depth, T* m, int width, T* y, int yStride, int columns)
    {
#if NET9_0_OR_GREATER
        if (WideVectors<T>.Enabled)
        {
            // 512-bit registers over the whole wide column blocks, the layout's own width over the rest (at most one vector).
            int wide = columns / WideVectors<T>.Count * WideVectors<T>.Count;
            MultiplyAccumulate<WideVectors<T>, System.Runtime.Intrinsics.Vector512<T>>(a, rowStride, depthStride, rows, depth, m, width, y, yStride, 0, wide);
            if (wide < columns)
            {
                MultiplyAccumulate<NarrowVectors<T>, Vector<T>>(a, rowStride, depthStride, rows, depth, m, width, y, yStride, wide, columns);
            }

            return;
        }
#endif
        MultiplyAccumulate<NarrowVectors<T>, Vector<T>>(a, rowStride, depthStride, rows, depth, m, width, y, yStride, 0, columns);
    }

    /// <summary>
    /// The sum over i &lt; n of a[i] * b[i], n a multiple of <see cref="Vector{T}"/>'s width: partial sums lane by lane
    /// (in 512-bit registers where the products use them), then the lanes added.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Dot(T* a, T* b, int n)
    {
#if NET9_0_OR_GREATER
        if (WideVectors<T>.Enabled)
        {
            int wide = n / WideVectors<T>.Count * WideVectors<T>.Count;
            T sum = Dot<WideVectors<T>, System.Runtime.Intrinsics.Vector512<T>>(a, b, wide);
            return wide < n ? sum + Dot<NarrowVectors<T>, Vector<T>>(a + wide, b + wide, n - wide) : sum;
        }
#endif
        return Dot<NarrowVectors<T>, Vector<T>>(a, b, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T Dot<TWidth, TVector>(T* a, T* b, int n)
        where TWidth : struct, IVectorWidth<TVector, T>
        where TVector : struct
    {
        int lanes = TWidth.Count, k = 0;
        TVector s0 = TWidth.Zero, s1 = TWidth.Zero;
        for (; k + (2 * lanes) <= n; k += 2 * lanes)
        {
            s0 = TWidth.MulAdd(TWidth.Load(a + k), TWidth.Load(b + k), s0);
            s1 = TWidth.MulAdd(TWidth.Load(a + k + lanes), TWidth.Load(b + k + lanes), s1);
        }

        if (k < n)
        {
            s0 = TWidth.MulAdd(TWidth.Load(a + k), TWidth.Load(b + k), s0);
        }

        return TWidth.Sum(TWidth.Add(s0, s1));
    }

    /// <summary>
    /// <see cref="MultiplyAccumulate(T*, int, int, int, int, T*, int, T*, int)"/> over columns [from, to) only, a
    /// whole number of <typeparamref name="TWidth"/> registers, in registers of that width. Each output is the same
    /// sequence of multiply-adds at every width, so the widths agree to the bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MultiplyAccumulate<TWidth, TVector>(T* a, int rowStride, int depthStride, int rows, int depth, T* m, int width, T* y, int yStride, int from, int to)
        where TWidth : struct, IVectorWidth<TVector, T>
        where TVector : struct
    {
        int lanes = TWidth.Count;
        int i = 0;
        for (; i + 6 <= rows; i += 6)
        {
            T* a0 = a + ((long)i * rowStride), a1 = a0 + rowStride, a2 = a1 + rowStride, a3 = a2 + rowStride, a4 = a3 + rowStride, a5 = a4 + rowStride;
            T* y0 = y + ((long)i * yStride), y1 = y0 + yStride, y2 = y1 + yStride, y3 = y2 + yStride, y4 = y3 + yStride, y5 = y4 + yStride;
            int v = from;
            for (; v + (2 * lanes) <= to; v += 2 * lanes)
            {
                TVector c00 = TWidth.Load(y0 + v), c01 = TWidth.Load(y0 + v + lanes), c10 = TWidth.Load(y1 + v), c11 = TWidth.Load(y1 + v + lanes);
                TVector c20 = TWidth.Load(y2 + v), c21 = TWidth.Load(y2 + v + lanes), c30 = TWidth.Load(y3 + v), c31 = TWidth.Load(y3 + v + lanes);
                TVector c40 = TWidth.Load(y4 + v), c41 = TWidth.Load(y4 + v + lanes), c50 = TWidth.Load(y5 + v), c51 = TWidth.Load(y5 + v + lanes);
                T* mk = m + v;
                for (long k = 0, ak = 0; k < depth; k++, ak += depthStride, mk += width)
                {
                    var m0 = TWidth.Load(mk);
                    var m1 = TWidth.Load(mk + lanes);
                    var b = TWidth.Broadcast(a0[ak]);
                    c00 = TWidth.MulAdd(m0, b, c00);
                    c01 = TWidth.MulAdd(m1, b, c01);
                    b = TWidth.Broadcast(a1[ak]);
                    c10 = TWidth.MulAdd(m0, b, c10);
                    c11 = TWidth.MulAdd(m1, b, c11);
                    b = TWidth.Broadcast(a2[ak]);
                    c20 = TWidth.MulAdd(m0, b, c20);
                    c21 = TWidth.MulAdd(m1, b, c21);
                    b = TWidth.Broadcast(a3[ak]);
                    c30 = TWidth.MulAdd(m0, b, c30);
                    c31 = TWidth.MulAdd(m1, b, c31);
                    b = TWidth.Broadcast(a4[ak]);
                    c40 = TWidth.MulAdd(m0, b, c40);
                    c41 = TWidth.MulAdd(m1, b, c41);
                    b = TWidth.Broadcast(a5[ak]);
                    c50 = TWidth.MulAdd(m0, b, c50);
                    c51 = TWidth.MulAdd(m1, b, c51);
                }

                TWidth.Store(y0 + v, c00); TWidth.Store(y0 + v + lanes, c01); TWidth.Store(y1 + v, c10); TWidth.Store(y1 + v + lanes, c11);
                TWidth.Store(y2 + v, c20); TWidth.Store(y2 + v + lanes, c21); TWidth.Store(y3 + v, c30); TWidth.Store(y3 + v + lanes, c31);
                TWidth.Store(y4 + v, c40); TWidth.Store(y4 + v + lanes, c41); TWidth.Store(y5 + v, c50); TWidth.Store(y5 + v + lanes, c51);
            }

            if (v < to)
            {
                TVector c0 = TWidth.Load(y0 + v), c1 = TWidth.Load(y1 + v), c2 = TWidth.Load(y2 + v), c3 = TWidth.Load(y3 + v), c4 = TWidth.Load(y4 + v), c5 = TWidth.Load(y5 + v);
                T* mk = m + v;
                for (long k = 0, ak = 0; k < depth; k++, ak += depthStride, mk += width)
                {
                    var m0 = TWidth.Load(mk);
                    c0 = TWidth.MulAdd(m0, TWidth.Broadcast(a0[ak]), c0);
                    c1 = TWidth.MulAdd(m0, TWidth.Broadcast(a1[ak]), c1);
                    c2 = TWidth.MulAdd(m0, TWidth.Broadcast(a2[ak]), c2);
                    c3 = TWidth.MulAdd(m0, TWidth.Broadcast(a3[ak]), c3);
                    c4 = TWidth.MulAdd(m0, TWidth.Broadcast(a4[ak]), c4);
                    c5 = TWidth.MulAdd(m0, TWidth.Broadcast(a5[ak]), c5);
                }

                TWidth.Store(y0 + v, c0); TWidth.Store(y1 + v, c1); TWidth.Store(y2 + v, c2); TWidth.Store(y3 + v, c3); TWidth.Store(y4 + v, c4); TWidth.Store(y5 + v, c5);
            }
        }

        for (; i + 4 <= rows; i += 4)
        {
            T* a0 = a + ((long)i * rowStride), a1 = a0 + rowStride, a2 = a1 + rowStride, a3 = a2 + rowStride;
            T* y0 = y + ((long)i * yStride), y1 = y0 + yStride, y2 = y1 + yStride, y3 = y2 + yStride;
            int v = from;
            for (; v + (2 * lanes) <= to; v += 2 * lanes)
            {
                TVector c00 = TWidth.Load(y0 + v), c01 = TWidth.Load(y0 + v + lanes), c10 = TWidth.Load(y1 + v), c11 = TWidth.Load(y1 + v + lanes);
                TVector c20 = TWidth.Load(y2 + v), c21 = TWidth.Load(y2 + v + lanes), c30 = TWidth.Load(y3 + v), c31 = TWidth.Load(y3 + v + lanes);
                T* mk = m + v;
                for (long k = 0, ak = 0; k < depth; k++, ak += depthStride, mk += width)
                {
                    var m0 = TWidth.Load(mk);
                    var m1 = TWidth.Load(mk + lanes);
                    var b = TWidth.Broadcast(a0[ak]);
                    c00 = TWidth.MulAdd(m0, b, c00);
                    c01 = TWidth.MulAdd(m1, b, c01);
                    b = TWidth.Broadcast(a1[ak]);
                    c10 = TWidth.MulAdd(m0, b, c10);
                    c11 = TWidth.MulAdd(m1, b, c11);
                    b = TWidth.Broadcast(a2[ak]);
                    c20 = TWidth.MulAdd(m0, b, c20);
                    c21 = TWidth.MulAdd(m1, b, c21);
                    b = TWidth.Broadcast(a3[ak]);
                    c30 = TWidth.MulAdd(m0, b, c30);
                    c31 = TWidth.MulAdd(m1, b, c31);
                }

                TWidth.Store(y0 + v, c00); TWidth.Store(y0 + v + lanes, c01); TWidth.Store(y1 + v, c10); TWidth.Store(y1 + v + lanes, c11);
                TWidth.Store(y2 + v, c20); TWidth.Store(y2 + v + lanes, c21); TWidth.Store(y3 + v, c30); TWidth.Store(y3 + v + lanes, c31);
            }

            if (v < to)
            {
                TVector c0 = TWidth.Load(y0 + v), c1 = TWidth.Load(y1 + v), c2 = TWidth.Load(y2 + v), c3 = TWidth.Load(y3 + v);
                T* mk = m + v;
                for (long k = 0, ak = 0; k < depth; k++, ak += depthStride, mk += width)
                {
                    var m0 = TWidth.Load(mk);
                    c0 = TWidth.MulAdd(m0, TWidth.Broadcast(a0[ak]), c0);
                    c1 = TWidth.MulAdd(m0, TWidth.Broadcast(a1[ak]), c1);
                    c2 = TWidth.MulAdd(m0, TWidth.Broadcast(a2[ak]), c2);
                    c3 = TWidth.MulAdd(m0, TWidth.Broadcast(a3[ak]), c3);
                }

                TWidth.Store(y0 + v, c0); TWidth.Store(y1 + v, c1); TWidth.Store(y2 + v, c2); TWidth.Store(y3 + v, c3);
            }
        }

        for (; i < rows; i++)
        {
            T* ai = a + ((long)i * rowStride);
            T* yi = y + ((long)i * yStride);
            for (int v = from; v < to; v += lanes)
            {
                TVector c0 = TWidth.Load(yi + v), c1 = TWidth.Zero;
                T* mk = m + v;
                long k = 0, ak = 0;
                for (; k + 2 <= depth; k += 2, ak += 2L * depthStride, mk += 2 * width)
                {
                    c0 = TWidth.MulAdd(TWidth.Load(mk), TWidth.Broadcast(ai[ak]), c0);
                    c1 = TWidth.MulAdd(TWidth.Load(mk + width), TWidth.Broadcast(ai[ak + depthStride]), c1);
                }

                if (k < depth)
                {
                    c0 = TWidth.MulAdd(TWidth.Load(mk), TWidth.Broadcast(ai[ak]), c0);
                }

                TWidth.Store(yi + v, TWidth.Add(c0, c1));
            }
        }
    }

    /// <summary>
    /// d[0 .. n) = d * a * (1 - a) lane by lane, in that order: a gradient through a sigmoid whose outputs are a. n a
    /// whole number of <see cref="PadWidth"/> registers; in 512-bit registers where the products use them, the same
    /// bits at every width.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ThroughSigmoid(T* d, T* a, long n)
    {
#if NET9_0_OR_GREATER
        if (WideVectors<T>.Enabled)
        {
            ThroughSigmoid<WideVectors<T>, System.Runtime.Intrinsics.Vector512<T>>(d, a, n);
            return;
        }
#endif
        ThroughSigmoid<NarrowVectors<T>, Vector<T>>(d, a, n);
    }

    /// <summary><see cref="ThroughSigmoid(T*, T*, long)"/> in registers of <typeparamref name="TWidth"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ThroughSigmoid<TWidth, TVector>(T* d, T* a, long n)
        where TWidth : struct, IVectorWidth<TVector, T>
        where TVector : struct
    {
        var one = TWidth.Broadcast(T.One);
        for (long k = 0; k < n; k += TWidth.Count)
        {
            var ak = TWidth.Load(a + k);
            TWidth.Store(d + k, TWidth.Multiply(TWidth.Multiply(TWidth.Load(d + k), ak), TWidth.Subtract(one, ak)));
        }
    }

    /// <summary>
    /// dst[0 .. n) = a[0 .. n) * b[0 .. n) + c[0 .. n), lane by lane (fused where the hardware has it), n a whole number
    /// of <see cref="PadWidth"/> registers: in 512-bit registers where the products use them, so the same bits at
    /// every width. dst may be c.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MulAdd(T* a, T* b, T* c, T* dst, int n)
    {
#if NET9_0_OR_GREATER
        if (WideVectors<T>.Enabled)
        {
            MulAdd<WideVectors<T>, System.Runtime.Intrinsics.Vector512<T>>(a, b, c, dst, n);
            return;
        }
#endif
        MulAdd<NarrowVectors<T>, Vector<T>>(a, b, c, dst, n);
    }

    /// <summary>dst[0 .. n) = a[0 .. n) * s + c[0 .. n), lane by lane, as <see cref="MulAdd(T*, T*, T*, T*, int)"/> with b all s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MulAdd(T* a, T s, T* c, T* dst, int n)
    {
#if NET9_0_OR_GREATER
        if (WideVectors<T>.Enabled)
        {
            MulAdd<WideVectors<T>, System.Runtime.Intrinsics.Vector512<T>>(a, s, c, dst, n);
            return;
        }
#endif
        MulAdd<NarrowVectors<T>, Vector<T>>(a, s, c, dst, n);
    }

    /// <summary><see cref="MulAdd(T*, T*, T*, T*, int)"/> in registers of <typeparamref name="TWidth"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void MulAdd<TWidth, TVector>(T* a, T* b, T* c, T* dst, int n)
        where TWidth : struct, IVectorWidth<TVector, T>
        where TVector : struct
    {
        for (int k = 0; k < n; k += TWidth.Count)
        {
            TWidth.Store(dst + k, TWidth.MulAdd(TWidth.Load(a + k), TWidth.Load(b + k), TWidth.Load(c + k)));
        }
    }

    /// <summary><see cref="MulAdd(T*, T, T*, T*, int)"/> in registers of <typeparamref name="TWidth"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void MulAdd<TWidth, TVector>(T* a, T s, T* c, T* dst, int n)
        where TWidth : struct, IVectorWidth<TVector, T>
        where TVector : struct
    {
        var vs = TWidth.Broadcast(s);
        for (int k = 0; k < n; k += TWidth.Count)
        {
            TWidth.Store(dst + k, TWidth.MulAdd(TWidth.Load(a + k), vs, TWidth.Load(c + k)));
        }
    }

    /// <summary>
    /// dst[0 .. n) = src[0 .. n), any n, in whole vectors and a scalar tail, inlined: the kernels copy many short rows
    /// (a state, a gate block), where <see cref="Span{T}.CopyTo(Span{T})"/>'s general memmove cost more than the copy.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Copy(T* dst, T* src, int n)
    {
        int k = 0;
        for (; k + Vector<T>.Count <= n; k += Vector<T>.Count)
        {
            Store(dst + k, Load(src + k));
        }

        for (; k < n; k++)
        {
            dst[k] = src[k];
        }
    }

    /// <summary>
    /// dst[0 .. n) += src[0 .. n): whole 512-bit registers where the products use them, whole vectors, then the tail
    /// element by element (the same additions either way).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddInPlace(T* dst, T* src, int n)
    {
        int k = 0;
#if NET9_0_OR_GREATER
        if (WideVectors<T>.Enabled)
        {
            for (; k + WideVectors<T>.Count <= n; k += WideVectors<T>.Count)
            {
                WideVectors<T>.Store(dst + k, WideVectors<T>.Load(dst + k) + WideVectors<T>.Load(src + k));
            }
        }
#endif
        for (; k + Vector<T>.Count <= n; k += Vector<T>.Count)
        {
            Store(dst + k, Load(dst + k) + Load(src + k));
        }

        for (; k < n; k++)
        {
            dst[k] += src[k];
        }
    }
}
