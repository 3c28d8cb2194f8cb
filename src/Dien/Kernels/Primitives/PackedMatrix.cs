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
        T* t = AllocClear((long)count * paddedRows);
        for (int r = 0; r < rows; r++)
        {
            for (int k = 0; k < count; k++)
            {
                t[((long)k * paddedRows) + r] = w[((long)r * cols) + from + k];
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
