using System.Numerics;
using Dien.Kernels.Primitives;

namespace Dien.Kernels.Lookup;

/// <summary>
/// Rows of several embedding tables side by side, and their gradients: out[i] = [T_0[ids_0[i]] ; T_1[ids_1[i]] ; ...].
/// Row 0 of every table is padding: it is read as it is and gets no gradient, as <c>nn.Embedding(padding_idx: 0)</c>.
/// </summary>
internal static unsafe class LookupKernel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Copies each looked-up row into its columns of <paramref name="output"/> [N, sum of widths]; tables and ids are addresses (<see cref="TensorMemory.Addresses{T}"/>).</summary>
    public static void Forward(nint[] tables, int[] widths, nint[] ids, int n, T* output)
    {
        int total = widths.Sum();
        for (int i = 0; i < n; i++)
        {
            T* row = output + ((long)i * total);
            for (int j = 0; j < tables.Length; j++)
            {
                int width = widths[j];
                VectorOps<T>.Copy(row, (T*)tables[j] + (((long*)ids[j])[i] * width), width);
                row += width;
            }
        }
    }

    /// <summary>
    /// Adds each row of <paramref name="grad"/> [N, sum of widths] into the rows it was read from, in row order (as
    /// libtorch's dense embedding backward does, so the sums are the same); <paramref name="gradTables"/> start zero.
    /// </summary>
    public static void Backward(T* grad, int[] widths, nint[] ids, int n, nint[] gradTables)
    {
        int total = widths.Sum();
        int offset = 0;
        for (int j = 0; j < gradTables.Length; j++)
        {
            int width = widths[j];
            long* table = (long*)ids[j];
            T* g = (T*)gradTables[j];
            for (int i = 0; i < n; i++)
            {
                long id = table[i];
                if (id == 0)
                {
                    continue;
                }

                VectorOps<T>.AddInPlace(g + (id * width), grad + ((long)i * total) + offset, width);
            }

            offset += width;
        }
    }
}
