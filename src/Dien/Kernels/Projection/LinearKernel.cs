using System.Numerics;
using System.Runtime.InteropServices;
using Dien.Kernels.Primitives;

namespace Dien.Kernels.Projection;

/// <summary>
/// y = x W^T + b over the rows of x [N, K], and its gradients, on the kernels' register-blocked product
/// (<see cref="VectorOps{T}.MultiplyAccumulate"/>). Rows go in tiles, each through padded scratch that lives in
/// cache, so that x, y and their gradients keep their tensors' layout ([N, K] and [N, O], unpadded).
/// </summary>
/// <remarks>
/// Why not libtorch's: the recurrences' input projections are tall and thin ([3,500, 36] x [36, 108] on W) and
/// their backward, a reduction over every row for dW and db, ran at about a third of the machine's matmul rate.
/// </remarks>
internal static unsafe class LinearKernel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Rows per tile: enough to fill the 6-row blocks, few enough that a tile's scratch stays in L1/L2.</summary>
    private const int TileRows = 96;

    /// <summary>y [N, O] = x [N, K] W^T + b, W [O, K], b [O] or null.</summary>
    public static void Forward(T* x, T* w, T* b, T* y, int n, int k, int o, int workers)
    {
        if (n == 0)
        {
            return;
        }

        int op = VectorOps<T>.Pad(o);
        T* wT = PackedMatrix<T>.Transposed(w, o, k, 0, k, op);
        // b padded to whole vectors once (zero without a bias): each output row of a tile starts as a copy of it.
        T* bPadded = b is null ? PackedMatrix<T>.AllocClear(op) : PackedMatrix<T>.Padded(b, 1, o, 0, o, op);
        try
        {
            int tiles = (n + TileRows - 1) / TileRows;
            int chunks = Math.Min(tiles, KernelWorkers.Chunks(workers));
            KernelWorkers.Run(
                c =>
                {
                    T* scratch = PackedMatrix<T>.AllocClear((long)TileRows * op);
                    try
                    {
                        for (int t = c; t < tiles; t += chunks)
                        {
                            int first = t * TileRows, rows = Math.Min(TileRows, n - first);
                            for (int r = 0; r < rows; r++)
                            {
                                VectorOps<T>.Copy(scratch + ((long)r * op), bPadded, op);
                            }

                            VectorOps<T>.MultiplyAccumulate(x + ((long)first * k), k, 1, rows, k, wT, op, scratch, op);
                            for (int r = 0; r < rows; r++)
                            {
                                VectorOps<T>.Copy(y + ((long)(first + r) * o), scratch + ((long)r * op), o);
                            }
                        }
                    }
                    finally
                    {
                        NativeMemory.AlignedFree(scratch);
                    }
                },
                chunks,
                workers);
        }
        finally
        {
            NativeMemory.AlignedFree(wT);
            NativeMemory.AlignedFree(bPadded);
        }
    }

    /// <summary>
    /// dX [N, K] = dY W, dW [O, K] = (x^T dY)^T and db [O] = the column sums of dY, from dY [N, O]. Any of dX, dW, db may
    /// be null (not wanted). Each chunk of tiles keeps its own dW and db, summed in chunk order, so the result does not
    /// depend on which worker ran which chunk.
    /// </summary>
    public static void Backward(T* x, T* w, T* dy, T* dx, T* dw, T* db, int n, int k, int o, int workers)
    {
        int op = VectorOps<T>.Pad(o), kp = VectorOps<T>.Pad(k);
        T* wPadded = dx is null ? null : PackedMatrix<T>.Padded(w, o, k, 0, k, kp);
        int tiles = (n + TileRows - 1) / TileRows;
        int chunks = Math.Max(1, Math.Min(tiles, KernelWorkers.Chunks(workers)));
        // Per chunk: dW^T [K, Op], then db [Op].
        long accumulator = ((long)k + 1) * op;
        T* acc = dw is null && db is null ? null : PackedMatrix<T>.AllocClear(chunks * accumulator);
        try
        {
            KernelWorkers.Run(
                c =>
                {
                    // Scratch: the tile's dY padded to whole vectors, and its dX likewise.
                    T* dyTile = PackedMatrix<T>.AllocClear((long)TileRows * op);
                    T* dxTile = PackedMatrix<T>.AllocClear((long)TileRows * kp);
                    T* dwAcc = acc is null ? null : acc + (c * accumulator);
                    T* dbAcc = dwAcc is null ? null : dwAcc + ((long)k * op);
                    try
                    {
                        for (int t = c; t < tiles; t += chunks)
                        {
                            int first = t * TileRows, rows = Math.Min(TileRows, n - first);
                            for (int r = 0; r < rows; r++)
                            {
                                VectorOps<T>.Copy(dyTile + ((long)r * op), dy + ((long)(first + r) * o), o);
                            }

                            if (dx is not null)
                            {
                                new Span<T>(dxTile, rows * kp).Clear();
                                VectorOps<T>.MultiplyAccumulate(dyTile, op, 1, rows, o, wPadded, kp, dxTile, kp);
                                for (int r = 0; r < rows; r++)
                                {
                                    VectorOps<T>.Copy(dx + ((long)(first + r) * k), dxTile + ((long)r * kp), k);
                                }
                            }

                            if (dw is not null)
                            {
                                // dW^T[i, :] += sum over the tile's rows r of x[r, i] * dY[r, :]: x read transposed, in place.
                                VectorOps<T>.MultiplyAccumulate(x + ((long)first * k), 1, k, k, rows, dyTile, op, dwAcc, op);
                            }

                            if (db is not null)
                            {
                                for (int r = 0; r < rows; r++)
                                {
                                    VectorOps<T>.AddInPlace(dbAcc, dyTile + ((long)r * op), op);
                                }
                            }
                        }
                    }
                    finally
                    {
                        NativeMemory.AlignedFree(dyTile);
                        NativeMemory.AlignedFree(dxTile);
                    }
                },
                chunks,
                workers);

            for (int c = 1; c < chunks; c++)
            {
                VectorOps<T>.AddInPlace(acc, acc + (c * accumulator), (int)accumulator);
            }

            if (dw is not null)
            {
                for (int i = 0; i < o; i++)
                {
                    for (int j = 0; j < k; j++)
                    {
                        dw[((long)i * k) + j] = acc[((long)j * op) + i];
                    }
                }
            }

            if (db is not null)
            {
                VectorOps<T>.Copy(db, acc + ((long)k * op), o);
            }
        }
        finally
        {
            NativeMemory.AlignedFree(wPadded);
            NativeMemory.AlignedFree(acc);
        }
    }
}
