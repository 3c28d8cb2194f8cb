using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Dien.Kernels.Primitives;

namespace Dien.Kernels.Attention;

/// <summary>
/// The MLP attention's scores (the authors' code) forward and backward on CPU memory: for every valid
/// position, f(q, k_t) = MLP([q ; k_t ; q - k_t ; q * k_t]) with sigmoid hidden layers and one output.
/// </summary>
/// <remarks>
/// The first layer on the four-part input is rewritten per row b as W_0 [q ; k ; q - k ; q * k] + b_0 =
/// M_b k + r_b with M_b = (W_k - W_d) + W_p diag(q_b) and r_b = (W_q + W_d) q_b + b_0 (W_q, W_k, W_d, W_p the
/// four column blocks of W_0): one product per position instead of two, the per-row parts once per row.
/// Positions go in tiles of <see cref="TileRows"/>; forward keeps the hidden activations for backward.
/// Rows are cut into chunks (<see cref="KernelWorkers"/>), each with its own weight-gradient accumulators
/// summed in chunk order. Layout: keys [B, T, H] or packed [N, H] (the valid positions row after row,
/// <see cref="Problem.KeyStart"/>; the saved activations and the keys' gradient then packed too), query [B, H], mask [B, T] (one byte per flag), scores and
/// their gradient [B, T] (0 at masked positions), layer j weight [N_j, K_j] row-major (K_0 = 4H), bias [N_j],
/// the last N = 1; saved activations [B, T, <see cref="SavedWidth"/>].
/// </remarks>
internal static unsafe class MlpAttentionKernel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Positions per tile.</summary>
    public const int TileRows = 32;

    /// <summary>Elements per position of the saved activations: every hidden layer, padded to whole vectors.</summary>
    public static int SavedWidth(int[] widths)
    {
        int width = 0;
        for (int j = 0; j + 1 < widths.Length; j++)
        {
            width += VectorOps<T>.Pad(widths[j]);
        }

        return width;
    }

    /// <summary>
    /// Where each row's valid positions start among packed keys: the valid positions of <paramref name="mask"/>
    /// [batch, steps] counted row after row. Returns the starts and the total.
    /// </summary>
    public static (long[] Starts, long Valid) PackedStarts(byte* mask, int batch, int steps)
    {
        var starts = new long[batch];
        long valid = 0;
        for (int b = 0; b < batch; b++)
        {
            starts[b] = valid;
            byte* row = mask + ((long)b * steps);
            for (int t = 0; t < steps; t++)
            {
                valid += row[t] != 0 ? 1 : 0;
            }
        }

        return (starts, valid);
    }

    /// <summary>Scores every valid position; <paramref name="saved"/> (or null at inference) receives the activations.</summary>
    public static void Forward(Problem problem, T* scores, T* saved, int workers)
    {
        var job = new Job(problem);
        try
        {
            job.Prepare(KernelWorkers.Chunks(workers), gradients: false);
            job.Scores = scores;
            job.Saved = saved;
            KernelWorkers.Run(job.ForwardChunk, job.Chunks, workers);
        }
        finally
        {
            job.Free();
        }
    }

    /// <summary>
    /// Back-propagates dScores [B, T]. dKeys must be zero-filled by the caller (masked positions are not written);
    /// dQuery, the weight and the bias gradients are overwritten.
    /// </summary>
    public static void Backward(Problem problem, T* dScores, T* saved, T* dKeys, T* dQuery, nint[] dWeights, nint[] dBiases, int workers)
    {
        if (problem.KeyBlock is not null)
        {
            throw new ArgumentException("Keys shared by rows (KeyBlock) are read by the forward only.", nameof(problem));
        }

        var job = new Job(problem);
        try
        {
            job.Prepare(KernelWorkers.Chunks(workers), gradients: true);
            job.DScores = dScores;
            job.Saved = saved;
            job.DKeys = dKeys;
            job.DQuery = dQuery;
            KernelWorkers.Run(job.BackwardChunk, job.Chunks, workers);
            job.WriteWeightGradients(dWeights, dBiases);
        }
        finally
        {
            job.Free();
        }
    }

    /// <summary>The inputs: pointers to contiguous memory that stays alive during the call.</summary>
    internal sealed class Problem
    {
        public int Batch, Steps, Hidden;
        public T* Keys, Query;
        public byte* Mask;

        /// <summary>
        /// Null: keys are [B, T, H]. Otherwise keys are packed, [N, H], and this is where each row's valid
        /// positions start (<see cref="PackedStarts"/>).
        /// </summary>
        public long[]? KeyStart;

        /// <summary>
        /// Null, or keys are one block [T, H] per history, [R, T, H], that rows share: where row b's block starts
        /// (its history times T). Forward only: the gradients of rows sharing a block would meet in it.
        /// </summary>
        public long[]? KeyBlock;

        /// <summary>Output width of each linear layer, the last one 1.</summary>
        public int[] Widths = [];

        /// <summary>Weight and bias of each layer, as addresses of T.</summary>
        public nint[] Weights = [], Biases = [];
    }

    private sealed class Job
    {
        private readonly Problem p;
        private readonly int layers, last, h, hp, maxWidth, savedWidth;
        private readonly int[] n, np, savedOffset;

        // Layer 0: A = W_k - W_d and W_p, transposed [H, N0p] for forward and padded [N0, Hp] for backward;
        // C = W_q + W_d likewise. Layers 1 .. L and every bias: the stack. Layer 0's gradient rows hold the
        // four column blocks (q, k, q - k, q * k), each padded to Hp.
        private T* aT, pT, cT, aRows, pRows, cRows;
        private readonly MlpStack<T> stack;
        private T* accumulators;

        public Job(Problem problem)
        {
            p = problem;
            h = problem.Hidden;
            hp = VectorOps<T>.Pad(h);
            stack = new MlpStack<T>(problem.Widths, problem.Weights, problem.Biases, 4 * hp);
            layers = stack.Layers;
            last = layers - 1;
            n = stack.N;
            np = stack.Np;
            maxWidth = Math.Max(np.Max(), hp);
            savedWidth = SavedWidth(n);
            savedOffset = new int[layers];
            for (int j = 1; j < layers; j++)
            {
                savedOffset[j] = savedOffset[j - 1] + np[j - 1];
            }
        }

        public int Chunks { get; private set; }

        public T* Scores, Saved, DScores, DKeys, DQuery;

        /// <summary>Packs layer 0 for the forward; with <paramref name="gradients"/>, also its row-major copies and the accumulators the backward needs.</summary>
        public void Prepare(int maxChunks, bool gradients)
        {
            Chunks = Math.Clamp(Math.Min(maxChunks, p.Batch / 4), 1, Math.Max(1, p.Batch));
            T* w0 = (T*)p.Weights[0];
            int k0 = 4 * h;
            T* a = PackedMatrix<T>.AllocClear((long)n[0] * h);
            T* c = PackedMatrix<T>.AllocClear((long)n[0] * h);
            try
            {
                for (int i = 0; i < n[0]; i++)
                {
                    T* row = w0 + ((long)i * k0);
                    for (int k = 0; k < h; k++)
                    {
                        a[(i * h) + k] = row[h + k] - row[(2 * h) + k];
                        c[(i * h) + k] = row[k] + row[(2 * h) + k];
                    }
                }

                aT = PackedMatrix<T>.Transposed(a, n[0], h, 0, h, np[0]);
                cT = PackedMatrix<T>.Transposed(c, n[0], h, 0, h, np[0]);
                if (gradients)
                {
                    // The row-major copies serve the backward only.
                    aRows = PackedMatrix<T>.Padded(a, n[0], h, 0, h, hp);
                    cRows = PackedMatrix<T>.Padded(c, n[0], h, 0, h, hp);
                }
            }
            finally
            {
                NativeMemory.AlignedFree(a);
                NativeMemory.AlignedFree(c);
            }

            pT = PackedMatrix<T>.Transposed(w0, n[0], k0, 3 * h, h, np[0]);
            if (gradients)
            {
                pRows = PackedMatrix<T>.Padded(w0, n[0], k0, 3 * h, h, hp);
                accumulators = PackedMatrix<T>.AllocClear(Chunks * stack.AccumulatorSize);
            }
        }

        private (int Start, int End) Rows(int chunk) => ((int)((long)p.Batch * chunk / Chunks), (int)((long)p.Batch * (chunk + 1) / Chunks));

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void ForwardChunk(int chunk)
        {
            const int P = TileRows;
            T* scratch = PackedMatrix<T>.AllocClear(((long)h * np[0]) + np[0] + ((long)P * hp) + stack.ActivationSize(P, layers));
            int* positions = stackalloc int[P];
            try
            {
                T* mT = scratch, r = mT + ((long)h * np[0]), kT = r + np[0];
                var act = stack.Activations(kT + (P * hp), P, layers);

                var (start, end) = Rows(chunk);
                for (int b = start; b < end; b++)
                {
                    T* q = p.Query + ((long)b * h);
                    RowParts(q, r, mT);
                    long rowStart = (long)b * p.Steps;
                    int t = 0, seen = 0;
                    while (true)
                    {
                        int rows = NextTile(rowStart, ref t, positions);
                        if (rows == 0)
                        {
                            break;
                        }

                        for (int i = 0; i < rows; i++)
                        {
                            VectorOps<T>.Copy(kT + (i * hp), p.Keys + (KeyRow(b, rowStart, positions[i], seen + i) * h), h);
                            VectorOps<T>.Copy(act[0] + (i * np[0]), r, np[0]);
                        }

                        VectorOps<T>.MultiplyAccumulate(kT, hp, 1, rows, h, mT, np[0], act[0], np[0]);
                        T* logits = stack.Forward(rows, act);
                        for (int i = 0; i < rows; i++)
                        {
                            Scores[rowStart + positions[i]] = logits[i * np[last]];
                            if (Saved != null)
                            {
                                long key = KeyRow(b, rowStart, positions[i], seen + i);
                                for (int j = 0; j < last; j++)
                                {
                                    VectorOps<T>.Copy(Saved + (key * savedWidth) + savedOffset[j], act[j] + (i * np[j]), np[j]);
                                }
                            }
                        }

                        seen += rows;
                    }

                    for (int s = 0; s < p.Steps; s++)
                    {
                        if (p.Mask[rowStart + s] == 0)
                        {
                            Scores[rowStart + s] = T.Zero;
                        }
                    }
                }
            }
            finally
            {
                NativeMemory.AlignedFree(scratch);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void BackwardChunk(int chunk)
        {
            const int P = TileRows;
            long size = (2L * n[0] * hp) + np[0] + hp + hp + ((long)P * hp) + stack.ActivationSize(P, last) + (3L * P * maxWidth);
            T* scratch = PackedMatrix<T>.AllocClear(size);
            int* positions = stackalloc int[P];
            try
            {
                T* m = scratch, dM = m + ((long)n[0] * hp), dr = dM + ((long)n[0] * hp), qPad = dr + np[0], dq = qPad + hp;
                T* kT = dq + hp, dA = kT + (P * hp), dB = dA + (P * maxWidth), dIn = dB + (P * maxWidth);
                var act = stack.Activations(dIn + (P * maxWidth), P, last);

                T* acc = accumulators + (chunk * stack.AccumulatorSize);
                var (start, end) = Rows(chunk);
                for (int b = start; b < end; b++)
                {
                    VectorOps<T>.Copy(qPad, p.Query + ((long)b * h), h);

                    // M_b = A + W_p diag(q), row by row.
                    for (int i = 0; i < n[0]; i++)
                    {
                        VectorOps<T>.MulAdd(pRows + ((long)i * hp), qPad, aRows + ((long)i * hp), m + ((long)i * hp), hp);
                    }

                    NativeMemory.Clear(dM, (nuint)((long)n[0] * hp * sizeof(T)));
                    NativeMemory.Clear(dr, (nuint)(np[0] * sizeof(T)));
                    long rowStart = (long)b * p.Steps;
                    int t = 0, seen = 0;
                    while (true)
                    {
                        int rows = NextTile(rowStart, ref t, positions);
                        if (rows == 0)
                        {
                            break;
                        }

                        int lastWidth = np[last];
                        NativeMemory.Clear(dA, (nuint)((long)rows * lastWidth * sizeof(T)));
                        for (int i = 0; i < rows; i++)
                        {
                            long key = KeyRow(b, rowStart, positions[i], seen + i);
                            VectorOps<T>.Copy(kT + (i * hp), p.Keys + (key * h), h);
                            for (int j = 0; j < last; j++)
                            {
                                VectorOps<T>.Copy(act[j] + (i * np[j]), Saved + (key * savedWidth) + savedOffset[j], np[j]);
                            }

                            dA[i * lastWidth] = DScores[rowStart + positions[i]];
                        }

                        T* dz = stack.Backward(rows, dA, dB, act, acc);

                        // Layer 0 through M_b k + r_b: dr += sum dz, dM += dz^T k, dk = dz M_b.
                        MlpStack<T>.SumRows(dz, rows, np[0], dr);
                        VectorOps<T>.MultiplyAccumulate(dz, 1, np[0], n[0], rows, kT, hp, dM, hp);
                        NativeMemory.Clear(dIn, (nuint)((long)rows * hp * sizeof(T)));
                        VectorOps<T>.MultiplyAccumulate(dz, np[0], 1, rows, n[0], m, hp, dIn, hp);
                        for (int i = 0; i < rows; i++)
                        {
                            VectorOps<T>.Copy(DKeys + (KeyRow(b, rowStart, positions[i], seen + i) * h), dIn + (i * hp), h);
                        }

                        seen += rows;
                    }

                    RowGradients(acc, dr, dM, qPad, dq);
                    VectorOps<T>.Copy(DQuery + ((long)b * h), dq, h);
                }
            }
            finally
            {
                NativeMemory.AlignedFree(scratch);
            }
        }

        /// <summary>r = C q + b_0 and M^T = A^T + diag(q) W_p^T for one row.</summary>
        private void RowParts(T* q, T* r, T* mT)
        {
            stack.FillBias(0, r, 1);
            VectorOps<T>.MultiplyAccumulate(q, h, 1, 1, h, cT, np[0], r, np[0]);
            for (int k = 0; k < h; k++)
            {
                long at = (long)k * np[0];
                VectorOps<T>.MulAdd(pT + at, q[k], aT + at, mT + at, np[0]);
            }
        }

        /// <summary>
        /// Layer 0's weight and bias gradients and dq from one row's dr and dM: the q block gets dr q^T, the k
        /// block dM, the (q - k) block dr q^T - dM, the (q * k) block dM diag(q); dq = C^T dr + sum_i W_p[i] * dM[i].
        /// </summary>
        private void RowGradients(T* acc, T* dr, T* dM, T* qPad, T* dq)
        {
            VectorOps<T>.AddInPlace(acc + stack.BiasOffset[0], dr, np[0]);
            T* w0 = acc + stack.WeightOffset[0];
            NativeMemory.Clear(dq, (nuint)(hp * sizeof(T)));
            VectorOps<T>.MultiplyAccumulate(dr, np[0], 1, 1, n[0], cRows, hp, dq, hp);
            for (int i = 0; i < n[0]; i++)
            {
                T* row = w0 + ((long)i * 4 * hp), dMi = dM + ((long)i * hp), pi = pRows + ((long)i * hp);
#if NET9_0_OR_GREATER
                if (WideVectors<T>.Enabled)
                {
                    RowGradientLanes<WideVectors<T>, System.Runtime.Intrinsics.Vector512<T>>(row, dr[i], dMi, pi, qPad, dq, hp);
                    continue;
                }
#endif
                RowGradientLanes<NarrowVectors<T>, Vector<T>>(row, dr[i], dMi, pi, qPad, dq, hp);
            }
        }

        /// <summary>
        /// One output i of layer 0 in <see cref="RowGradients"/>, lane by lane in registers of <typeparamref name="TWidth"/>
        /// (so the same bits at every width): its four weight-row blocks and its share of dq.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void RowGradientLanes<TWidth, TVector>(T* row, T dri, T* dMi, T* pi, T* qPad, T* dq, int hp)
            where TWidth : struct, IVectorWidth<TVector, T>
            where TVector : struct
        {
            var d = TWidth.Broadcast(dri);
            for (int k = 0; k < hp; k += TWidth.Count)
            {
                var q = TWidth.Load(qPad + k);
                var g = TWidth.Load(dMi + k);
                var outer = TWidth.Multiply(d, q);
                TWidth.Store(row + k, TWidth.Add(TWidth.Load(row + k), outer));
                TWidth.Store(row + hp + k, TWidth.Add(TWidth.Load(row + hp + k), g));
                TWidth.Store(row + (2 * hp) + k, TWidth.Add(TWidth.Load(row + (2 * hp) + k), TWidth.Subtract(outer, g)));
                TWidth.Store(row + (3 * hp) + k, TWidth.MulAdd(g, q, TWidth.Load(row + (3 * hp) + k)));
                TWidth.Store(dq + k, TWidth.MulAdd(TWidth.Load(pi + k), g, TWidth.Load(dq + k)));
            }
        }

        /// <summary>Where position t, the row's valid position number <paramref name="ordinal"/>, sits in the keys.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private long KeyRow(int b, long rowStart, int t, int ordinal)
            => p.KeyStart is not null ? p.KeyStart[b] + ordinal : p.KeyBlock is not null ? p.KeyBlock[b] + t : rowStart + t;

        /// <summary>The next up to TileRows valid positions of a row from t on; returns how many.</summary>
        private int NextTile(long rowStart, ref int t, int* positions)
        {
            int rows = 0;
            for (; t < p.Steps && rows < TileRows; t++)
            {
                if (p.Mask[rowStart + t] != 0)
                {
                    positions[rows++] = t;
                }
            }

            return rows;
        }

        /// <summary>Sums the chunks' gradients in chunk order and writes them in the tensors' layout.</summary>
        public void WriteWeightGradients(nint[] dWeights, nint[] dBiases)
        {
            stack.SumChunks(accumulators, Chunks);
            stack.WriteGradients(accumulators, dWeights, dBiases);
            T* w = (T*)dWeights[0];
            for (int i = 0; i < n[0]; i++)
            {
                for (int block = 0; block < 4; block++)
                {
                    VectorOps<T>.Copy(w + ((long)i * 4 * h) + (block * h), accumulators + ((long)i * 4 * hp) + (block * hp), h);
                }
            }
        }

        public void Free()
        {
            stack.Dispose();
            foreach (var ptr in new[] { (nint)aT, (nint)pT, (nint)cT, (nint)aRows, (nint)pRows, (nint)cRows, (nint)accumulators })
            {
                NativeMemory.AlignedFree((void*)ptr);
            }
        }
    }
}
