using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
#if NET9_0_OR_GREATER
using System.Runtime.Intrinsics;
#endif
using Dien.Kernels.Primitives;

namespace Dien.Kernels.Recurrence;

/// <summary>
/// Forward and backward (BPTT) of a GRU-shaped recurrence over all time steps of a batch, on CPU memory.
/// Rows are independent, so the batch is cut into contiguous ranges of rows (balanced by their lengths), each
/// run whole by one worker (<see cref="KernelWorkers"/>); only the weight gradients are summed across ranges
/// at the end, in range order.
/// </summary>
/// <remarks>
/// The hot loops are compiled fully optimised at first call (AggressiveOptimization): a training run calls
/// them only a few times per batch, too rarely for tiered compilation to promote them quickly.
/// Shapes: xProj [B, T, 3H] (x W_ih^T + b_ih, gate rows (r, u|z, n|h~)), or packed [sum of lengths, 3H] (the
/// valid positions row after row; dXProj then packed too), attention [B, T], weightHh [3H, H],
/// biasHh [3H], states [B, T, H] or packed [sum of lengths, H] (packedStates: states, saved gates and dStates
/// hold the valid positions only, row after row), final [B, H]. Internally each gate is padded to PH lanes (a whole number
/// of vectors) so every inner loop runs on full vectors; the saved gates tensor is [B, T, 4 * PH] holding
/// (r, u, c, U_c h_prev + b_hc) per step. All pointers address contiguous memory of element type T.
/// </remarks>
internal static unsafe class RecurrenceKernel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Elements per step of the saved gates: four padded gate blocks.</summary>
    public static int GateStride(int hidden) => 4 * VectorOps<T>.Pad(hidden);

    /// <summary>
    /// Runs the recurrence forward. Outputs: states [B, T, H] (null allowed when only final is wanted and
    /// nothing is saved), final [B, H] (or null), gates [B, T, GateStride(H)] for backward (null at inference).
    /// attention and biasHh may be null (no attention; no hidden bias). With <paramref name="inputRows"/>, xProj is
    /// [R, T, 3H], one block per history, and row b reads block inputRows[b] (rows that share a history share its
    /// projection, with no copy per row); forward only, since their gradients would meet in one block.
    /// </summary>
    public static void Forward(
        RecurrentCell cell, int batch, int steps, int hidden, bool packed, bool packedStates,
        T* xProj, T* attention, T* weightHh, T* biasHh, int[] lengths,
        T* states, T* final, T* gates, int parallelism, int[]? inputRows = null)
    {
        if (inputRows is not null && (packed || gates != null))
        {
            throw new ArgumentException("inputRows: shared input blocks are read by a padded forward that saves nothing for backward.", nameof(inputRows));
        }

        var job = new ForwardJob
        {
            Cell = cell, Batch = batch, Steps = steps, Hidden = hidden, PaddedHidden = VectorOps<T>.Pad(hidden),
            XProj = xProj, Attention = attention, BiasHh = biasHh, Lengths = lengths,
            States = states, Final = final, Gates = gates, XStart = inputRows is null ? ProjectionRows(lengths, batch, steps, packed) : Array.ConvertAll(inputRows, r => (long)r * steps),
            StateStart = ProjectionRows(lengths, batch, steps, packedStates), PackedStates = packedStates,
        };
        int ph = job.PaddedHidden;
        job.WeightT = Alloc(hidden * 3 * ph);
        try
        {
            // W^T padded: row k holds column k of W_hh, each gate's block padded to PH with zeros.
            Clear(job.WeightT, hidden * 3 * ph);
            for (int g = 0; g < 3; g++)
            {
                for (int i = 0; i < hidden; i++)
                {
                    T* w = weightHh + (((g * hidden) + i) * hidden);
                    for (int k = 0; k < hidden; k++)
                    {
                        job.WeightT[(k * 3 * ph) + (g * ph) + i] = w[k];
                    }
                }
            }

            KernelWorkers.Run(job.RunChunk, Partition(lengths, batch, hidden, parallelism, out job.Bounds), parallelism);
        }
        finally
        {
            NativeMemory.AlignedFree(job.WeightT);
        }
    }

    /// <summary>
    /// Back-propagates through all steps. Inputs: dStates [B, T, H] and/or dFinal [B, H] (either may be null),
    /// the states and gates the forward wrote. Outputs: dXProj [B, T, 3H] (zero at padding), dAttention [B, T]
    /// (attentional cells, else null), dWeightHh [3H, H], dBiasHh [3H] (or null).
    /// </summary>
    public static void Backward(
        RecurrentCell cell, int batch, int steps, int hidden, bool packed, bool packedStates,
        T* dStates, T* dFinal, T* attention, T* weightHh, int[] lengths, T* states, T* gates,
        T* dXProj, T* dAttention, T* dWeightHh, T* dBiasHh, int parallelism)
    {
        int ph = VectorOps<T>.Pad(hidden);
        var job = new BackwardJob
        {
            Cell = cell, Batch = batch, Steps = steps, Hidden = hidden, PaddedHidden = ph,
            DStates = dStates, DFinal = dFinal, Attention = attention, Lengths = lengths, States = states, Gates = gates,
            DXProj = dXProj, DAttention = dAttention, XStart = ProjectionRows(lengths, batch, steps, packed), Packed = packed,
            StateStart = ProjectionRows(lengths, batch, steps, packedStates),
        };
        int chunks = Partition(lengths, batch, hidden, parallelism, out job.Bounds);
        int accStride = (3 * ph * ph) + (3 * ph);
        job.Weight = Alloc(3 * ph * ph);
        job.Accumulators = Alloc(chunks * accStride);
        job.AccumulatorStride = accStride;
        try
        {
            // W_hh padded to [3 PH, PH]: gate rows and columns padded with zeros.
            Clear(job.Weight, 3 * ph * ph);
            for (int g = 0; g < 3; g++)
            {
                for (int i = 0; i < hidden; i++)
                {
                    new ReadOnlySpan<T>(weightHh + (((g * hidden) + i) * hidden), hidden)
                        .CopyTo(new Span<T>(job.Weight + (((g * ph) + i) * ph), hidden));
                }
            }

            Clear(job.Accumulators, chunks * accStride);
            KernelWorkers.Run(job.RunChunk, chunks, parallelism);

            // Sum the workers' weight and bias gradients and drop the padding.
            T* total = job.Accumulators;
            for (int c = 1; c < chunks; c++)
            {
                VectorOps<T>.AddInPlace(total, job.Accumulators + (c * accStride), accStride);
            }

            for (int g = 0; g < 3; g++)
            {
                for (int i = 0; i < hidden; i++)
                {
                    new ReadOnlySpan<T>(total + (((g * ph) + i) * ph), hidden)
                        .CopyTo(new Span<T>(dWeightHh + (((g * hidden) + i) * hidden), hidden));
                    if (dBiasHh != null)
                    {
                        dBiasHh[(g * hidden) + i] = total[(3 * ph * ph) + (g * ph) + i];
                    }
                }
            }
        }
        finally
        {
            NativeMemory.AlignedFree(job.Weight);
            NativeMemory.AlignedFree(job.Accumulators);
        }
    }

    private sealed class ForwardJob
    {
        public RecurrentCell Cell;
        public int Batch, Steps, Hidden, PaddedHidden;
        public T* XProj, Attention, BiasHh, WeightT, States, Final, Gates;
        public long[] XStart = [], StateStart = [];
        public bool PackedStates;
        public int[] Lengths = [];
        public int[] Bounds = [];

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void RunChunk(int chunk)
        {
            int h = Hidden, ph = PaddedHidden;
            int gateStride = 4 * ph;
            // Scratch: previous and next state, hidden projection g (3 PH), padded input projection (3 PH), candidate,
            // and b_hh padded to the gate blocks once (zero without a bias), which starts g at every step.
            T* scratch = Alloc(12 * ph);
            try
            {
                T* hp = scratch, hn = scratch + ph, g = scratch + (2 * ph), xs = scratch + (5 * ph), c = scratch + (8 * ph);
                T* biasPadded = scratch + (9 * ph);
                Clear(scratch, 12 * ph);
                for (int q = 0; q < 3 && BiasHh != null; q++)
                {
                    VectorOps<T>.Copy(biasPadded + (q * ph), BiasHh + (q * h), h);
                }

                for (int b = Bounds[chunk]; b < Bounds[chunk + 1]; b++)
                {
                    int length = Lengths[b];
                    Clear(hp, ph);
                    for (int t = 0; t < length; t++)
                    {
                        long row = ((long)b * Steps) + t, stateRow = StateStart[b] + t;
                        T* x = XProj + ((XStart[b] + t) * 3 * h);
                        for (int q = 0; q < 3; q++)
                        {
                            VectorOps<T>.Copy(xs + (q * ph), x + (q * h), h);
                        }

                        // g = U h_prev + b_hh (the padding lanes of g stay zero).
                        VectorOps<T>.Copy(g, biasPadded, 3 * ph);
                        VectorOps<T>.AccumulateRows(hp, h, WeightT, 3 * ph, g);

                        // r, u = sigmoid(x + g) in place in g[0 .. 2 PH); c = tanh(x_c + r * g_c).
                        VectorOps<T>.AddInPlace(g, xs, 2 * ph);
                        VectorOps<T>.SigmoidInPlace(g, 2 * ph);
                        T* r = g, u = g + ph, gc = g + (2 * ph);
                        T a = Attention != null ? Attention[row] : T.Zero;
                        VectorOps<T>.MulAdd(r, gc, xs + (2 * ph), c, ph);
                        VectorOps<T>.TanhInPlace(c, ph);
#if NET9_0_OR_GREATER
                        if (WideVectors<T>.Enabled)
                        {
                            Step<WideVectors<T>, Vector512<T>>(Cell, a, u, c, hp, hn, ph);
                        }
                        else
#endif
                        {
                            Step<NarrowVectors<T>, Vector<T>>(Cell, a, u, c, hp, hn, ph);
                        }

                        if (States != null)
                        {
                            VectorOps<T>.Copy(States + (stateRow * h), hn, h);
                        }

                        if (Gates != null)
                        {
                            T* s = Gates + (stateRow * gateStride);
                            VectorOps<T>.Copy(s, g, 3 * ph);
                            // Saved order: r, u, c, g_c.
                            VectorOps<T>.Copy(s + (3 * ph), gc, ph);
                            VectorOps<T>.Copy(s + (2 * ph), c, ph);
                        }

                        T* swap = hp;
                        hp = hn;
                        hn = swap;
                    }

                    if (States != null && length < Steps && !PackedStates)
                    {
                        Clear(States + ((((long)b * Steps) + length) * h), (Steps - length) * h);
                    }

                    if (Final != null)
                    {
                        VectorOps<T>.Copy(Final + ((long)b * h), hp, h);
                    }
                }
            }
            finally
            {
                NativeMemory.AlignedFree(scratch);
            }
        }
    }

    private sealed class BackwardJob
    {
        public RecurrentCell Cell;
        public int Batch, Steps, Hidden, PaddedHidden, AccumulatorStride;
        public T* DStates, DFinal, Attention, States, Gates, DXProj, DAttention, Weight, Accumulators;
        public long[] XStart = [], StateStart = [];
        public bool Packed;
        public int[] Lengths = [];
        public int[] Bounds = [];

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void RunChunk(int chunk)
        {
            int h = Hidden, ph = PaddedHidden;
            int gateStride = 4 * ph;
            T* dW = Accumulators + (chunk * AccumulatorStride);
            T* dBias = dW + (3 * ph * ph);
            // Scratch: dh, next dh, gradient of the gate pre-activations as seen by x (3 PH); per row, every
            // step's h_prev (T x PH, row 0 stays zero: h_0) and gradient as seen by U h (T x 3 PH), so that the
            // row's weight gradient is one register-blocked product after its BPTT instead of a rank-1
            // read-modify-write of the whole [3 PH, PH] accumulator at every step.
            long scratchSize = (6 * ph) + ((long)Steps * ph) + (3L * ph * Steps);
            T* scratch = Alloc(scratchSize);
            try
            {
                T* dh = scratch, dhn = scratch + ph, dx = scratch + (3 * ph);
                T* hps = scratch + (6 * ph), dghRows = hps + ((long)Steps * ph);
                Clear(scratch, scratchSize);
                for (int b = Bounds[chunk]; b < Bounds[chunk + 1]; b++)
                {
                    int length = Lengths[b];
                    long rowStart = (long)b * Steps;
                    Clear(dh, ph);
                    if (DFinal != null && length > 0)
                    {
                        VectorOps<T>.Copy(dh, DFinal + ((long)b * h), h);
                    }

                    for (int t = length - 1; t >= 0; t--)
                    {
                        long row = rowStart + t, stateRow = StateStart[b] + t;
                        if (DStates != null)
                        {
                            VectorOps<T>.AddInPlace(dh, DStates + (stateRow * h), h);
                        }

                        T* hp = hps + ((long)t * ph);
                        T* dgh = dghRows + ((long)t * 3 * ph);
                        if (t > 0)
                        {
                            VectorOps<T>.Copy(hp, States + ((stateRow - 1) * h), h);
                        }

                        T a = Attention != null ? Attention[row] : T.Zero;
                        T* s = Gates + (stateRow * gateStride);
#if NET9_0_OR_GREATER
                        T da = WideVectors<T>.Enabled
                            ? GateGradients<WideVectors<T>, Vector512<T>>(Cell, a, s, dh, hp, dx, dgh, dhn, ph)
                            : GateGradients<NarrowVectors<T>, Vector<T>>(Cell, a, s, dh, hp, dx, dgh, dhn, ph);
#else
                        T da = GateGradients<NarrowVectors<T>, Vector<T>>(Cell, a, s, dh, hp, dx, dgh, dhn, ph);
#endif
                        if (DAttention != null)
                        {
                            DAttention[row] = da;
                        }

                        T* dxRow = DXProj + ((XStart[b] + t) * 3 * h);
                        for (int q = 0; q < 3; q++)
                        {
                            VectorOps<T>.Copy(dxRow + (q * h), dx + (q * ph), h);
                        }

                        VectorOps<T>.AddInPlace(dBias, dgh, 3 * ph);

                        // dh_prev = dh * (1 - m) + U^T dgh, gate by gate: the padding lanes of dgh are zero, so only the
                        // first h rows of each gate's block take part.
                        for (int q = 0; q < 3; q++)
                        {
                            VectorOps<T>.AccumulateRows(dgh + (q * ph), h, Weight + ((long)q * ph * ph), ph, dhn);
                        }
                        T* swap = dh;
                        dh = dhn;
                        dhn = swap;
                    }

                    // dW[j, :] += sum over steps t >= 1 of dgh_t[j] * h_prev_t (h_prev_0 = 0 adds nothing): the
                    // [3 PH, T - 1] x [T - 1, PH] product, its left factor read transposed from the rows of dgh.
                    if (length > 1)
                    {
                        // Gate by gate, the first h rows of each block (the rest are zero).
                        for (int q = 0; q < 3; q++)
                        {
                            VectorOps<T>.MultiplyAccumulate(dghRows + (3 * ph) + (q * ph), 1, 3 * ph, h, length - 1, hps + ph, ph, dW + ((long)q * ph * ph), ph);
                        }
                    }

                    if (length < Steps)
                    {
                        if (!Packed)
                        {
                            Clear(DXProj + ((rowStart + length) * 3 * h), (Steps - length) * 3 * h);
                        }

                        if (DAttention != null)
                        {
                            Clear(DAttention + rowStart + length, Steps - length);
                        }
                    }
                }
            }
            finally
            {
                NativeMemory.AlignedFree(scratch);
            }
        }
    }

    /// <summary>hn = hp + m * (c - hp) with the cell's move fraction m, in registers of <typeparamref name="TWidth"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Step<TWidth, TVector>(RecurrentCell cell, T a, T* u, T* c, T* hp, T* hn, int ph)
        where TWidth : struct, IVectorWidth<TVector, T>
        where TVector : struct
    {
        var va = TWidth.Broadcast(a);
        var one = TWidth.Broadcast(T.One);
        for (int k = 0; k < ph; k += TWidth.Count)
        {
            var uk = TWidth.Load(u + k);
            var m = cell switch
            {
                RecurrentCell.Gru => TWidth.Subtract(one, uk),
                RecurrentCell.UpdateGateGru => uk,
                RecurrentCell.AugruPaper => TWidth.Multiply(va, uk),
                RecurrentCell.AugruAuthorsCode => TWidth.Subtract(one, TWidth.Multiply(TWidth.Subtract(one, va), TWidth.Subtract(one, uk))),
                _ => va,
            };
            var h0 = TWidth.Load(hp + k);
            TWidth.Store(hn + k, TWidth.MulAdd(m, TWidth.Subtract(TWidth.Load(c + k), h0), h0));
        }
    }

    /// <summary>
    /// One step's gate gradients over the padded lanes, in registers of <typeparamref name="TWidth"/> (the padding
    /// lanes stay zero): dx gets the pre-activations' gradients as the input projection sees them, dgh as U h sees
    /// them (the candidate's scaled by r), dhn = dh * (1 - m). Returns dL/da (attentional cells; else 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T GateGradients<TWidth, TVector>(RecurrentCell cell, T a, T* s, T* dh, T* hp, T* dx, T* dgh, T* dhn, int ph)
        where TWidth : struct, IVectorWidth<TVector, T>
        where TVector : struct
    {
        int lanes = TWidth.Count;
        var one = TWidth.Broadcast(T.One);
        var va = TWidth.Broadcast(a);
        var daSum = TWidth.Zero;
        for (int k = 0; k < ph; k += lanes)
        {
            var r = TWidth.Load(s + k);
            var u = TWidth.Load(s + ph + k);
            var c = TWidth.Load(s + (2 * ph) + k);
            var gc = TWidth.Load(s + (3 * ph) + k);
            var d = TWidth.Load(dh + k);
            var h0 = TWidth.Load(hp + k);

            TVector m, du;
            var dm = TWidth.Multiply(d, TWidth.Subtract(c, h0));
            switch (cell)
            {
                case RecurrentCell.Gru:
                    m = TWidth.Subtract(one, u);
                    du = TWidth.Subtract(TWidth.Zero, dm);
                    break;
                case RecurrentCell.UpdateGateGru:
                    m = u;
                    du = dm;
                    break;
                case RecurrentCell.AugruPaper:
                    m = TWidth.Multiply(va, u);
                    du = TWidth.Multiply(dm, va);
                    daSum = TWidth.Add(daSum, TWidth.Multiply(dm, u));
                    break;
                case RecurrentCell.AugruAuthorsCode:
                    m = TWidth.Subtract(one, TWidth.Multiply(TWidth.Subtract(one, va), TWidth.Subtract(one, u)));
                    du = TWidth.Multiply(dm, TWidth.Subtract(one, va));
                    daSum = TWidth.Add(daSum, TWidth.Multiply(dm, TWidth.Subtract(one, u)));
                    break;
                default:
                    m = va;
                    du = TWidth.Zero;
                    daSum = TWidth.Add(daSum, dm);
                    break;
            }

            var dcPre = TWidth.Multiply(TWidth.Multiply(d, m), TWidth.Subtract(one, TWidth.Multiply(c, c)));
            var drPre = TWidth.Multiply(TWidth.Multiply(TWidth.Multiply(dcPre, gc), r), TWidth.Subtract(one, r));
            var duPre = TWidth.Multiply(TWidth.Multiply(du, u), TWidth.Subtract(one, u));
            TWidth.Store(dx + k, drPre);
            TWidth.Store(dx + ph + k, duPre);
            TWidth.Store(dx + (2 * ph) + k, dcPre);
            TWidth.Store(dgh + k, drPre);
            TWidth.Store(dgh + ph + k, duPre);
            TWidth.Store(dgh + (2 * ph) + k, TWidth.Multiply(dcPre, r));
            TWidth.Store(dhn + k, TWidth.Multiply(d, TWidth.Subtract(one, m)));
        }

        return TWidth.Sum(daSum);
    }

    /// <summary>
    /// Splits rows 0 .. batch into at most <see cref="KernelWorkers.Chunks"/> contiguous ranges of about equal
    /// work (the sum of their lengths). Small batches stay in one chunk: a fork costs more than it saves.
    /// </summary>
    private static int Partition(int[] lengths, int batch, int hidden, int parallelism, out int[] bounds)
    {
        long work = 0;
        for (int b = 0; b < batch; b++)
        {
            work += lengths[b];
        }

        // About 3 H^2 multiply-adds per row-step; below ~200k of them one worker is faster.
        int chunks = (int)Math.Clamp(Math.Min(KernelWorkers.Chunks(parallelism), work * 3 * hidden * hidden / 200_000), 1, Math.Max(1, batch));
        bounds = new int[chunks + 1];
        bounds[chunks] = batch;
        long done = 0;
        int next = 1;
        for (int b = 0; b < batch && next < chunks; b++)
        {
            done += lengths[b];
            if (done * chunks >= work * next)
            {
                bounds[next++] = b + 1;
            }
        }

        for (; next < chunks; next++)
        {
            bounds[next] = batch;
        }

        return chunks;
    }

    private static T* Alloc(long count) => (T*)NativeMemory.AlignedAlloc((nuint)(Math.Max(1, count) * sizeof(T)), 64);

    /// <summary>
    /// Where each row's steps start in the input projection (or the states), in positions: <c>b * steps</c> padded,
    /// or the sum of the earlier rows' lengths packed (the valid positions only, row after row).
    /// </summary>
    private static long[] ProjectionRows(int[] lengths, int batch, int steps, bool packed)
    {
        var start = new long[batch];
        for (int b = 1; b < batch; b++)
        {
            start[b] = start[b - 1] + (packed ? lengths[b - 1] : steps);
        }

        return start;
    }

    private static void Clear(T* p, long count) => NativeMemory.Clear(p, (nuint)(count * sizeof(T)));
}
