using System.Numerics;
using System.Runtime.InteropServices;

namespace Dien.Kernels.Primitives;

/// <summary>
/// Weight layouts for <see cref="VectorOps{T}.MultiplyAccumulate"/>: row-major copies padded with zeros to whole
/// vectors, transposed for a forward product or not for a backward one, in 64-byte aligned native memory
/// (release with <see cref="NativeMemory.AlignedFree"/>).
/// </summary>
internal static unsafe class PackedMatrix<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Columns [from, from + count) of w [rows, cols], transposed to [count, paddedRows].</summary>
    public static T* Transposed(T* w, int rows, int cols, int from, int count, int paddedRows)
    {
        // In blocks of 16 x 16, so that the block's 16 destination rows stay in L1 while it is written: row by row, every
        // write of a large matrix (the head's 200 x 180) went to a line of its own.
        const int Block = 16;
        T* t = AllocClear((long)count * paddedRows);
        for (int r0 = 0; r0 < rows; r0 += Block)
        {
            int r1 = Math.Min(rows, r0 + Block);
            for (int k0 = 0; k0 < count; k0 += Block)
            {
                int k1 = Math.Min(count, k0 + Block);
                for (int r = r0; r < r1; r++)
                {
                    T* source = w + ((long)r * cols) + from;
                    for (int k = k0; k < k1; k++)
                    {
                        t[((long)k * paddedRows) + r] = source[k];
                    }
                }
            }
        }

        return t;
    }

    /// <summary>Columns [from, from + count) of w [rows, cols], each row padded to paddedCount.</summary>
    public static T* Padded(T* w, int rows, int cols, int from, int count, int paddedCount)
    {
        T* t = AllocClear((long)rows * paddedCount);
        for (int r = 0; r < rows; r++)
        {
            new ReadOnlySpan<T>(w + ((long)r * cols) + from, count).CopyTo(new Span<T>(t + ((long)r * paddedCount), count));
        }

        return t;
    }

    /// <summary>count zero elements, 64-byte aligned.</summary>
    public static T* AllocClear(long count)
    {
        var bytes = (nuint)(Math.Max(1, count) * sizeof(T));
        T* m = (T*)NativeMemory.AlignedAlloc(bytes, 64);
        NativeMemory.Clear(m, bytes);
        return m;
    }
}
