using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Dien.Kernels.Primitives;

namespace Dien.Kernels.NextBehaviour;

/// <summary>
/// The next-behaviour auxiliary loss with the MLP scorer (the paper's interest extractor layer), its value and all its
/// gradients in one pass over the valid pairs, on CPU memory. Each pair (h_t, e_{t+1}, e'_{t+1}) is scored
/// twice through the MLP [h ; e] -> sigmoid layers -> 1 logit; the loss is the mean over pairs of
/// softplus(-f(h, e)) + softplus(f(h, e')).
/// </summary>
/// <remarks>
/// Why one pass: in libtorch the scorer is a dozen tensor operations forward and two dozen backward over
/// [2, B, T, 100]-sized activations, each a trip through memory. Here pairs go in tiles of
/// <see cref="TileRows"/> whose activations stay in cache from the forward through the backward, and the
/// state half of the first layer is computed once for both behaviours. Because the loss is a scalar, its
/// gradients are known as soon as the forward is: they are computed here, scaled by 1/N, and the autograd
/// node only multiplies them by the incoming gradient. The pairs are cut into contiguous chunks
/// (<see cref="KernelWorkers"/>) whose weight gradients are summed at the end in chunk order, so a result
/// does not depend on scheduling.
/// Layout: states [B, T, H] or packed [N, H], behaviours and negatives [B, T, E] or packed [N, E] (the valid positions row after row,
/// <see cref="Problem.Packed"/>), mask [B, T] (one byte per flag); layer j has
/// weight [N_j, K_j] (row-major, K_0 = H + E with the state columns first) and bias [N_j]; the last layer has
/// N = 1. Internally every width is padded to whole vectors with zero weights.
/// </remarks>
internal static unsafe class NextBehaviourLossKernel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Pairs per tile: 32 rows keep a tile's activations (about 60 KB at widths 100-50) in L2.</summary>
    public const int TileRows = 32;

    /// <summary>Below this many pairs per chunk, splitting further costs more than it saves.</summary>
    private const int MinPairsPerChunk = 128;

    /// <summary>
    /// Runs the loss. Returns its value, the mean over <paramref name="pairCount"/> pairs (0 when there are none).
    /// When <paramref name="gradients"/> is given, all of it is overwritten: a position without a pair (padding, a
    /// row's last valid position) gets zeros, written by the chunk whose pairs surround it, so that the caller need not
    /// clear the buffers on its own thread first.
    /// </summary>
    public static double Run(Problem problem, Gradients? gradients, int parallelism, out int pairCount)
        => Start(problem, gradients, parallelism, inBackground: false).Finish(out pairCount);

    /// <summary>
    /// Starts the loss: with <paramref name="inBackground"/> on helper threads (<see cref="KernelWorkers.Start"/>), so
    /// that the caller can do other work meanwhile, else at once. <see cref="Pending.Finish"/> returns what
    /// <see cref="Run"/> does; the inputs and gradients must stay alive until it has returned.
    /// </summary>
    public static Pending Start(Problem problem, Gradients? gradients, int parallelism, bool inBackground)
    {
        var job = new Job(problem, gradients);
        try
        {
            int pairCount = job.Pairs.Length;
            if (pairCount == 0)
            {
                job.ClearInputGradients();
                return new Pending(job, problem, gradients, null);
            }

            int chunks = Math.Clamp(Math.Min(KernelWorkers.Chunks(parallelism), pairCount / MinPairsPerChunk), 1, pairCount);
            job.Prepare(chunks);
            if (inBackground)
            {
                return new Pending(job, problem, gradients, KernelWorkers.Start(job.RunChunk, chunks, parallelism));
            }

            KernelWorkers.Run(job.RunChunk, chunks, parallelism);
            return new Pending(job, problem, gradients, null);
        }
        catch
        {
            job.Free();
            throw;
        }
    }

    /// <summary>A started loss (<see cref="Start"/>): its chunks may still be running.</summary>
    internal sealed class Pending
    {
        private readonly Job _job;
        private readonly Problem _problem;
        private readonly Gradients? _gradients;
        private KernelWorkers.Background? _background;
        private bool _finished;

        internal Pending(Job job, Problem problem, Gradients? gradients, KernelWorkers.Background? background)
        {
            _job = job;
            _problem = problem;
            _gradients = gradients;
            _background = background;
        }

        /// <summary>
        /// Waits for the chunks, writes the weight gradients and frees the kernel's memory. Returns the mean loss over
        /// <paramref name="pairCount"/> pairs (0 when there are none). Call once.
        /// </summary>
        /// <exception cref="AggregateException">A chunk threw (the memory is freed all the same).</exception>
        public double Finish(out int pairCount)
        {
            if (_finished)
            {
                throw new InvalidOperationException("The auxiliary loss kernel has already finished.");
            }

            _finished = true;
            try
            {
                _background?.Join();
                pairCount = _job.Pairs.Length;
                if (pairCount == 0)
                {
                    _gradients?.ClearWeights(_problem.Widths, _problem.Hidden + _problem.Behaviour);
                    return 0;
                }

                double loss = 0;
                foreach (double chunkLoss in _job.Losses)
                {
                    loss += chunkLoss;
                }

                if (_gradients is not null)
                {
                    _job.WriteWeightGradients(_gradients);
                }

                return loss / pairCount;
            }
            finally
            {
                _job.Free();
            }
        }
    }

    /// <summary>The inputs: pointers to contiguous memory that stays alive during the call.</summary>
    internal sealed class Problem
    {
        public int Batch, Steps, Hidden, Behaviour;
        public T* States, Behaviours, Negatives;
        public byte* Mask;

        /// <summary>
        /// Behaviours and negatives are packed, [N, E] (the valid positions row after row), not [B, T, E]; N must
        /// then be <see cref="PackedRows"/>.
        /// </summary>
        public bool Packed;

        /// <summary>The states are packed too, [N, H] (only with packed behaviours).</summary>
        public bool StatesPacked;

        /// <summary>The rows of packed behaviours and negatives: the valid positions of <see cref="Mask"/>.</summary>
        public long PackedRows;

        /// <summary>Output width of each linear layer, the last one 1.</summary>
        public int[] Widths = [];

        /// <summary>Weight and bias of each layer (<see cref="Widths"/> order), as addresses of T.</summary>
        public nint[] Weights = [], Biases = [];
    }

    /// <summary>Where the gradients of the mean loss go (same layouts as the inputs).</summary>
    internal sealed class Gradients
    {
        public T* States, Behaviours, Negatives;
        public nint[] Weights = [], Biases = [];

        public void ClearWeights(int[] widths, int firstInput)
        {
            for (int j = 0; j < widths.Length; j++)
            {
                int input = j == 0 ? firstInput : widths[j - 1];
                NativeMemory.Clear((void*)Weights[j], (nuint)((long)widths[j] * input * sizeof(T)));
                NativeMemory.Clear((void*)Biases[j], (nuint)(widths[j] * sizeof(T)));
            }
        }
    }

    internal sealed class Job
    {
        private readonly Problem p;
        private readonly Gradients? grads;
        private readonly int h, e, hp, ep, maxWidth;

        // Layers 1 .. L and every bias; layer 0 is split into its state and behaviour columns, packed
        // transposed [K, Np] for forward and padded [N, Kp] for backward.
        private readonly MlpStack<T> stack;
        private T* forwardState, forwardBehaviour, backwardState, backwardBehaviour;

        // Per chunk: the gradients in the stack's accumulator layout (layer 0's rows hold state then behaviour columns).
        private T* accumulators;

        public Job(Problem problem, Gradients? gradients)
        {
            p = problem;
            grads = gradients;
            h = problem.Hidden;
            e = problem.Behaviour;
            hp = VectorOps<T>.Pad(h);
            ep = VectorOps<T>.Pad(e);
            stack = new MlpStack<T>(problem.Widths, problem.Weights, problem.Biases, hp + ep);
            maxWidth = Math.Max(stack.Np.Max(), Math.Max(hp, ep));
            (Pairs, Next) = FindPairs();
        }

        /// <summary>Where h_t of each valid pair (t and t + 1 both valid) sits in the states: b * T + t, or its packed index.</summary>
        public int[] Pairs { get; }

        /// <summary>For each pair, the row of e_{t+1} in the behaviours and negatives: b * T + t + 1, or its packed index.</summary>
        public int[] Next { get; }

        public double[] Losses { get; private set; } = [];

        public void Prepare(int chunks)
        {
            Losses = new double[chunks];
            T* w = (T*)p.Weights[0];
            int n0 = stack.N[0], np0 = stack.Np[0];
            forwardState = PackedMatrix<T>.Transposed(w, n0, h + e, 0, h, np0);
            forwardBehaviour = PackedMatrix<T>.Transposed(w, n0, h + e, h, e, np0);
            backwardState = PackedMatrix<T>.Padded(w, n0, h + e, 0, h, hp);
            backwardBehaviour = PackedMatrix<T>.Padded(w, n0, h + e, h, e, ep);
            if (grads is not null)
            {
                accumulators = PackedMatrix<T>.AllocClear(chunks * stack.AccumulatorSize);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void RunChunk(int chunk)
        {
            int chunks = Losses.Length;
            int start = (int)((long)Pairs.Length * chunk / chunks), end = (int)((long)Pairs.Length * (chunk + 1) / chunks);
            const int P = TileRows;
            int layers = stack.Layers, n0 = stack.N[0], np0 = stack.Np[0];

            // Tile scratch: states, both behaviours, the shared state part of layer 0, the activations of every
            // layer for both behaviours, two gradient buffers, the summed layer-0 gradient and an input gradient.
            long size = (P * hp) + (2L * P * ep) + (P * np0) + (2 * stack.ActivationSize(P, layers)) + (4L * P * maxWidth);
            T* scratch = PackedMatrix<T>.AllocClear(size);
            try
            {
                T* hT = scratch, shared = hT + (P * hp), dA = shared + (P * np0), dB = dA + (P * maxWidth);
                T* dSum = dB + (P * maxWidth), dIn = dSum + (P * maxWidth);
                T*[] eT = new T*[] { dIn + (P * maxWidth), dIn + (P * maxWidth) + (P * ep) };
                T* first = eT[1] + (P * ep);
                var act = new[] { stack.Activations(first, P, layers), stack.Activations(first + stack.ActivationSize(P, layers), P, layers) };

                T* acc = grads is null ? null : accumulators + (chunk * stack.AccumulatorSize);
                if (grads is not null)
                {
                    ClearRowsWithoutPairs(chunk, chunks, start, end);
                }

                double loss = 0;
                T scale = T.One / T.CreateChecked(Pairs.Length);
                for (int tile = start; tile < end; tile += P)
                {
                    int rows = Math.Min(P, end - tile);
                    Gather(tile, rows, hT, eT);

                    // Layer 0's state part plus bias, once for both behaviours.
                    stack.FillBias(0, shared, rows);
                    VectorOps<T>.MultiplyAccumulate(hT, hp, 1, rows, h, forwardState, np0, shared, np0);
                    for (int c = 0; c < 2; c++)
                    {
                        VectorOps<T>.Copy(act[c][0], shared, rows * np0);
                        VectorOps<T>.MultiplyAccumulate(eT[c], ep, 1, rows, e, forwardBehaviour, np0, act[c][0], np0);
                        T* logits = stack.Forward(rows, act[c]);

                        // Real behaviour (c = 0): -log s(f) = softplus(-f); sampled one: -log(1 - s(f)) = softplus(f).
                        T sign = c == 0 ? -T.One : T.One;
                        int lastWidth = stack.Np[layers - 1];
                        if (acc != null)
                        {
                            NativeMemory.Clear(dA, (nuint)((long)rows * lastWidth * sizeof(T)));
                        }

                        for (int i = 0; i < rows; i++)
                        {
                            T x = sign * logits[i * lastWidth];
                            loss += double.CreateChecked(T.Max(x, T.Zero) + T.Log(T.One + T.Exp(-T.Abs(x))));
                            if (acc != null)
                            {
                                // d softplus(x) / dx = sigmoid(x).
                                dA[i * lastWidth] = sign * scale / (T.One + T.Exp(-x));
                            }
                        }

                        if (acc != null)
                        {
                            BackwardFirstLayer(rows, stack.Backward(rows, dA, dB, act[c], acc), dSum, dIn, eT[c], c, acc, tile);
                        }
                    }

                    if (acc != null)
                    {
                        // Layer 0's state columns and the states get the gradient summed over both behaviours.
                        VectorOps<T>.MultiplyAccumulate(dSum, 1, np0, n0, rows, hT, hp, acc + stack.WeightOffset[0], hp + ep);
                        NativeMemory.Clear(dIn, (nuint)((long)rows * hp * sizeof(T)));
                        VectorOps<T>.MultiplyAccumulate(dSum, np0, 1, rows, n0, backwardState, hp, dIn, hp);
                        for (int i = 0; i < rows; i++)
                        {
                            VectorOps<T>.Copy(grads!.States + ((long)Pairs[tile + i] * h), dIn + (i * hp), h);
                        }
                    }
                }

                Losses[chunk] = loss;
            }
            finally
            {
                NativeMemory.AlignedFree(scratch);
            }
        }

        /// <summary>Layer 0 for one behaviour: its behaviour columns and the behaviour; the state part waits for both.</summary>
        private void BackwardFirstLayer(int rows, T* dz, T* dSum, T* dIn, T* behaviour, int c, T* acc, int tile)
        {
            int n0 = stack.N[0], np0 = stack.Np[0];
            VectorOps<T>.MultiplyAccumulate(dz, 1, np0, n0, rows, behaviour, ep, acc + stack.WeightOffset[0] + hp, hp + ep);
            MlpStack<T>.SumRows(dz, rows, np0, acc + stack.BiasOffset[0]);
            if (c == 0)
            {
                VectorOps<T>.Copy(dSum, dz, rows * np0);
            }
            else
            {
                VectorOps<T>.AddInPlace(dSum, dz, rows * np0);
            }

            NativeMemory.Clear(dIn, (nuint)((long)rows * ep * sizeof(T)));
            VectorOps<T>.MultiplyAccumulate(dz, np0, 1, rows, n0, backwardBehaviour, ep, dIn, ep);
            T* target = c == 0 ? grads!.Behaviours : grads!.Negatives;
            for (int i = 0; i < rows; i++)
            {
                VectorOps<T>.Copy(target + ((long)Next[tile + i] * e), dIn + (i * ep), e);
            }
        }

        /// <summary>With no pair at all: the input gradients are zeros.</summary>
        public void ClearInputGradients()
        {
            if (grads is not null)
            {
                NativeMemory.Clear(grads.States, (nuint)(StateRows * h * sizeof(T)));
                NativeMemory.Clear(grads.Behaviours, (nuint)(BehaviourRows * e * sizeof(T)));
                NativeMemory.Clear(grads.Negatives, (nuint)(BehaviourRows * e * sizeof(T)));
            }
        }

        private long StateRows => p.StatesPacked ? p.PackedRows : (long)p.Batch * p.Steps;

        private long BehaviourRows => p.Packed ? p.PackedRows : (long)p.Batch * p.Steps;

        /// <summary>
        /// Zeros the input gradients' rows that no pair writes, between this chunk's first pair and the next chunk's (the
        /// first chunk from row 0, the last to the end): the chunks' ranges tile every row once, and the pairs' rows
        /// increase, so the gaps between a chunk's pair rows are its own.
        /// </summary>
        private void ClearRowsWithoutPairs(int chunk, int chunks, int start, int end)
        {
            bool last = chunk == chunks - 1;
            ClearGaps(grads!.States, h, Pairs, start, end, chunk == 0 ? 0 : Pairs[start], last ? StateRows : Pairs[end]);
            long from = chunk == 0 ? 0 : Next[start], to = last ? BehaviourRows : Next[end];
            ClearGaps(grads.Behaviours, e, Next, start, end, from, to);
            ClearGaps(grads.Negatives, e, Next, start, end, from, to);
        }

        /// <summary>Zeros rows <paramref name="from"/> .. <paramref name="to"/> - 1 of <paramref name="target"/> except the rows <paramref name="rows"/>[start .. end - 1].</summary>
        private static void ClearGaps(T* target, int width, int[] rows, int start, int end, long from, long to)
        {
            long row = from;
            for (int i = start; i < end; i++)
            {
                if (rows[i] > row)
                {
                    NativeMemory.Clear(target + (row * width), (nuint)((rows[i] - row) * width * sizeof(T)));
                }

                row = rows[i] + 1;
            }

            if (to > row)
            {
                NativeMemory.Clear(target + (row * width), (nuint)((to - row) * width * sizeof(T)));
            }
        }

        private void Gather(int tile, int rows, T* hT, T*[] eT)
        {
            for (int i = 0; i < rows; i++)
            {
                long at = Pairs[tile + i], next = Next[tile + i];
                VectorOps<T>.Copy(hT + (i * hp), p.States + (at * h), h);
                VectorOps<T>.Copy(eT[0] + (i * ep), p.Behaviours + (next * e), e);
                VectorOps<T>.Copy(eT[1] + (i * ep), p.Negatives + (next * e), e);
            }
        }

        private (int[] Pairs, int[] Next) FindPairs()
        {
            // Counted first, so that the arrays are allocated once at their size: growing lists cost a W step at batch
            // 512 several copies and most of its managed allocation.
            int count = 0, valid = 0;
            for (int b = 0; b < p.Batch; b++)
            {
                byte* row = p.Mask + ((long)b * p.Steps);
                for (int t = 0; t < p.Steps; t++)
                {
                    if (row[t] != 0)
                    {
                        valid++;
                        count += t + 1 < p.Steps && row[t + 1] != 0 ? 1 : 0;
                    }
                }
            }

            if (p.Packed && valid != p.PackedRows)
            {
                throw new ArgumentException($"The packed behaviours have {p.PackedRows} rows but the mask has {valid} valid positions.", "behaviours");
            }

            var pairs = GC.AllocateUninitializedArray<int>(count);
            var next = GC.AllocateUninitializedArray<int>(count);

            // Valid positions are left-aligned, so a packed index is the count of valid positions before it.
            int pair = 0;
            valid = 0;
            for (int b = 0; b < p.Batch; b++)
            {
                byte* row = p.Mask + ((long)b * p.Steps);
                for (int t = 0; t < p.Steps; t++)
                {
                    if (row[t] == 0)
                    {
                        continue;
                    }

                    valid++;
                    if (t + 1 < p.Steps && row[t + 1] != 0)
                    {
                        pairs[pair] = p.StatesPacked ? valid - 1 : (b * p.Steps) + t;
                        next[pair++] = p.Packed ? valid : (b * p.Steps) + t + 1;
                    }
                }
            }

            return (pairs, next);
        }

        /// <summary>Sums the chunks' gradients in chunk order and writes them in the tensors' layout.</summary>
        public void WriteWeightGradients(Gradients g)
        {
            stack.SumChunks(accumulators, Losses.Length);
            stack.WriteGradients(accumulators, g.Weights, g.Biases);
            T* w = (T*)g.Weights[0];
            for (int row = 0; row < stack.N[0]; row++)
            {
                T* s = accumulators + ((long)row * (hp + ep));
                VectorOps<T>.Copy(w + ((long)row * (h + e)), s, h);
                VectorOps<T>.Copy(w + ((long)row * (h + e)) + h, s + hp, e);
            }
        }

        public void Free()
        {
            stack.Dispose();
            NativeMemory.AlignedFree(forwardState);
            NativeMemory.AlignedFree(forwardBehaviour);
            NativeMemory.AlignedFree(backwardState);
            NativeMemory.AlignedFree(backwardBehaviour);
            NativeMemory.AlignedFree(accumulators);
        }
    }
}
