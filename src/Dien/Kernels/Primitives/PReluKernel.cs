using System.Numerics;

namespace Dien.Kernels.Primitives;

/// <summary>
/// PReLU with one slope per column, y = x if x &gt; 0 else a_c x, over rows x [N, C], and its gradients, as libtorch's
/// <c>prelu</c> defines them: at x = 0 the input's gradient takes the slope, and the slope's gradient is the sum over
/// rows of g x where x &lt;= 0.
/// </summary>
internal static unsafe class PReluKernel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>y [N, C] from x [N, C] and the slopes a [C].</summary>
    public static void Forward(T* x, T* a, T* y, int n, int c)
    {
        for (int i = 0; i < n; i++)
        {
            T* xi = x + ((long)i * c), yi = y + ((long)i * c);
            int k = 0;
            for (; k + Vector<T>.Count <= c; k += Vector<T>.Count)
            {
                var v = VectorOps<T>.Load(xi + k);
                VectorOps<T>.Store(yi + k, Vector.ConditionalSelect(Vector.GreaterThan(v, Vector<T>.Zero), v, v * VectorOps<T>.Load(a + k)));
            }

            for (; k < c; k++)
            {
                yi[k] = xi[k] > T.Zero ? xi[k] : a[k] * xi[k];
            }
        }
    }

    /// <summary>dx [N, C] and da [C] (overwritten) from the upstream gradient g [N, C].</summary>
    public static void Backward(T* x, T* a, T* g, T* dx, T* da, int n, int c)
    {
        new Span<T>(da, c).Clear();
        for (int i = 0; i < n; i++)
        {
            T* xi = x + ((long)i * c), gi = g + ((long)i * c), dxi = dx + ((long)i * c);
            int k = 0;
            for (; k + Vector<T>.Count <= c; k += Vector<T>.Count)
            {
                var v = VectorOps<T>.Load(xi + k);
                var d = VectorOps<T>.Load(gi + k);
                var positive = Vector.GreaterThan(v, Vector<T>.Zero);
                VectorOps<T>.Store(dxi + k, Vector.ConditionalSelect(positive, d, d * VectorOps<T>.Load(a + k)));
                VectorOps<T>.Store(da + k, VectorOps<T>.Load(da + k) + Vector.ConditionalSelect(positive, Vector<T>.Zero, d * v));
            }

            for (; k < c; k++)
            {
                bool positive = xi[k] > T.Zero;
                dxi[k] = positive ? gi[k] : a[k] * gi[k];
                if (!positive)
                {
                    da[k] += gi[k] * xi[k];
                }
            }
        }
    }
}
