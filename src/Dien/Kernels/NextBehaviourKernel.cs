using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Dien.Kernels;

/// <summary>
/// The next-behaviour auxiliary loss with the MLP scorer (DESIGN.md section 3), its value and all its
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
/// Layout: states [B, T, H], behaviours and negatives [B, T, E], mask [B, T] (one byte per flag); layer j has
/// weight [N_j, K_j] (row-major, K_0 = H + E with the state columns first) and bias [N_j]; the last layer has
/// N = 1. Internally every width is padded to whole vectors with zero weights.
/// </remarks>
internal static unsafe class NextBehaviourKernel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Pairs per tile: 32 rows keep a tile's activations (about 60 KB at widths 100-50) in L2.</summary>
    public const int TileRows = 32;

    /// <summary>Below this many pairs per chunk, splitting further costs more than it saves.</summary>
    private const int MinPairsPerChunk = 128;

    /// <summary>
    /// Runs the loss. Returns its value, the mean over <paramref name="pairCount"/> pairs (0 when there are none).
    /// When <paramref name="gradients"/> is given, its state and behaviour gradients must be zero-filled by the
    /// caller (positions without a pair are not written) and its weight and bias gradients are overwritten.
    /// </summary>
    public static double Run(Problem problem, Gradients? gradients, int parallelism, out int pairCount)
    {
        var job = new Job(problem, gradients);
        pairCount = job.Pairs.Length;
        if (pairCount == 0)
        {
            gradients?.ClearWeights(problem.Widths, problem.Hidden + problem.Behaviour);
            return 0;
        }

        int chunks = Math.Clamp(Math.Min(KernelWorkers.Chunks(parallelism), pairCount / MinPairsPerChunk), 1, pairCount);
        try
        {
            job.Prepare(chunks);
            KernelWorkers.Run(job.RunChunk, chunks, parallelism);

            double loss = 0;
            for (int c = 0; c < chunks; c++)
            {
                loss += job.Losses[c];
            }

            if (gradients is not null)
            {
                job.WriteWeightGradients(gradients);
            }

            return loss / pairCount;
        }
        finally
        {
            job.Free();
        }
    }

    /// <summary>The inputs: pointers to contiguous memory that stays alive during the call.</summary>
    internal sealed class Problem
    {
        public int Batch, Steps, Hidden, Behaviour;
        public T* States, Behaviours, Negatives;
        public byte* Mask;

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

    private sealed class Job
    {
        private readonly Problem p;
        private readonly Gradients? grads;
        private readonly int layers, h, e, hp, ep, maxWidth;
        private readonly int[] n, np;

        // Packed weights. Forward: W^T padded, [K, Np] (layer 0 split into its state and behaviour columns).
        // Backward: W padded, [N, Kp]. Bias padded to Np.
        private readonly T*[] forwardW, backwardW, bias;
        private T* forwardState, forwardBehaviour, backwardState, backwardBehaviour;

        // Per worker: the weight gradients in the backward layout, then the bias gradients.
        private T* accumulators;
        private long accumulatorStride;
        private long[] weightOffset = [], biasOffset = [];

        public Job(Problem problem, Gradients? gradients)
        {
            p = problem;
            grads = gradients;
            layers = problem.Widths.Length;
            h = problem.Hidden;
            e = problem.Behaviour;
            hp = VectorOps<T>.Pad(h);
            ep = VectorOps<T>.Pad(e);
            n = problem.Widths;
            np = n.Select(VectorOps<T>.Pad).ToArray();
            maxWidth = Math.Max(np.Max(), Math.Max(hp, ep));
            forwardW = new T*[layers];
            backwardW = new T*[layers];
            bias = new T*[layers];
            Pairs = FindPairs();
        }

        /// <summary>Flat positions b * T + t of the valid pairs: t and t + 1 both valid.</summary>
        public int[] Pairs { get; }

        public double[] Losses { get; private set; } = [];

        private int In(int j) => j == 0 ? h + e : n[j - 1];

        private int InPadded(int j) => j == 0 ? 0 : np[j - 1];

        public void Prepare(int chunks)
        {
            Losses = new double[chunks];
            for (int j = 0; j < layers; j++)
            {
                T* w = (T*)p.Weights[j];
                int k = In(j);
                bias[j] = PackedMatrix<T>.AllocClear(np[j]);
                new ReadOnlySpan<T>((T*)p.Biases[j], n[j]).CopyTo(new Span<T>(bias[j], n[j]));
                if (j == 0)
                {
                    forwardState = PackedMatrix<T>.Transposed(w, n[0], k, 0, h, np[0]);
                    forwardBehaviour = PackedMatrix<T>.Transposed(w, n[0], k, h, e, np[0]);
                    backwardState = PackedMatrix<T>.Padded(w, n[0], k, 0, h, hp);
                    backwardBehaviour = PackedMatrix<T>.Padded(w, n[0], k, h, e, ep);
                }
                else
                {
                    forwardW[j] = PackedMatrix<T>.Transposed(w, n[j], k, 0, k, np[j]);
                    backwardW[j] = PackedMatrix<T>.Padded(w, n[j], k, 0, k, np[j - 1]);
                }
            }

            if (grads is null)
            {
                return;
            }

            weightOffset = new long[layers];
            biasOffset = new long[layers];
            long offset = 0;
            for (int j = 0; j < layers; j++)
            {
                weightOffset[j] = offset;
                offset += (long)n[j] * (j == 0 ? hp + ep : np[j - 1]);
            }

            for (int j = 0; j < layers; j++)
            {
                biasOffset[j] = offset;
                offset += np[j];
            }

            accumulatorStride = offset;
            accumulators = PackedMatrix<T>.AllocClear(chunks * offset);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void RunChunk(int chunk)
        {
            int chunks = Losses.Length;
            int start = (int)((long)Pairs.Length * chunk / chunks), end = (int)((long)Pairs.Length * (chunk + 1) / chunks);
            const int P = TileRows;

            // Tile scratch: states, both behaviours, the shared state part of layer 0, the activations of every
            // layer for both behaviours, two gradient buffers, the summed layer-0 gradient and an input gradient.
            long activationSize = 0;
            for (int j = 0; j < layers; j++)
            {
                activationSize += (long)P * np[j];
            }

            long size = (P * hp) + (2L * P * ep) + (P * np[0]) + (2 * activationSize) + (3L * P * maxWidth) + (P * maxWidth);
            T* scratch = PackedMatrix<T>.AllocClear(size);
            try
            {
                T* hT = scratch, shared = hT + (P * hp), dA = shared + (P * np[0]), dB = dA + (P * maxWidth);
                T* dSum = dB + (P * maxWidth), dIn = dSum + (P * maxWidth);
                T*[] eT = new T*[] { dIn + (P * maxWidth), dIn + (P * maxWidth) + (P * ep) };
                var act = new T*[2, layers];
                T* next = eT[1] + (P * ep);
                for (int c = 0; c < 2; c++)
                {
                    for (int j = 0; j < layers; j++)
                    {
                        act[c, j] = next;
                        next += P * np[j];
                    }
                }

                T* acc = grads is null ? null : accumulators + (chunk * accumulatorStride);
                double loss = 0;
                T scale = T.One / T.CreateChecked(Pairs.Length);
                for (int tile = start; tile < end; tile += P)
                {
                    int rows = Math.Min(P, end - tile);
                    Gather(tile, rows, hT, eT);

                    // Layer 0's state part plus bias, once for both behaviours.
                    for (int i = 0; i < rows; i++)
                    {
                        new ReadOnlySpan<T>(bias[0], np[0]).CopyTo(new Span<T>(shared + (i * np[0]), np[0]));
                    }

                    VectorOps<T>.MultiplyAccumulate(hT, hp, 1, rows, h, forwardState, np[0], shared, np[0]);
                    for (int c = 0; c < 2; c++)
                    {
                        T* logits = Forward(rows, shared, eT[c], act, c);
                        // Real behaviour (c = 0): -log s(f) = softplus(-f); sampled one: -log(1 - s(f)) = softplus(f).
                        T sign = c == 0 ? -T.One : T.One;
                        int lastWidth = np[layers - 1];
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
                            Backward(rows, dA, dB, dSum, dIn, hT, eT[c], act, c, acc, tile);
                        }
                    }

                    if (acc != null)
                    {
                        // Layer 0's state columns and the states get the gradient summed over both behaviours.
                        VectorOps<T>.MultiplyAccumulate(dSum, 1, np[0], n[0], rows, hT, hp, acc + weightOffset[0], hp + ep);
                        NativeMemory.Clear(dIn, (nuint)((long)rows * hp * sizeof(T)));
                        VectorOps<T>.MultiplyAccumulate(dSum, np[0], 1, rows, n[0], backwardState, hp, dIn, hp);
                        for (int i = 0; i < rows; i++)
                        {
                            new ReadOnlySpan<T>(dIn + (i * hp), h).CopyTo(new Span<T>(grads!.States + ((long)Pairs[tile + i] * h), h));
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

        /// <summary>Layers 0 .. L for one behaviour; returns the logits (lane 0 of each row of the last layer).</summary>
        private T* Forward(int rows, T* shared, T* behaviour, T*[,] act, int c)
        {
            T* z = act[c, 0];
            new ReadOnlySpan<T>(shared, rows * np[0]).CopyTo(new Span<T>(z, rows * np[0]));
            VectorOps<T>.MultiplyAccumulate(behaviour, ep, 1, rows, e, forwardBehaviour, np[0], z, np[0]);
            for (int j = 1; j < layers; j++)
            {
                VectorOps<T>.SigmoidInPlace(act[c, j - 1], rows * np[j - 1]);
                z = act[c, j];
                for (int i = 0; i < rows; i++)
                {
                    new ReadOnlySpan<T>(bias[j], np[j]).CopyTo(new Span<T>(z + (i * np[j]), np[j]));
                }

                VectorOps<T>.MultiplyAccumulate(act[c, j - 1], np[j - 1], 1, rows, n[j - 1], forwardW[j], np[j], z, np[j]);
            }

            return z;
        }

        /// <summary>Back from the logit gradient in <paramref name="dz"/> to layer 0, for one behaviour.</summary>
        private void Backward(int rows, T* dz, T* dPrev, T* dSum, T* dIn, T* hT, T* behaviour, T*[,] act, int c, T* acc, int tile)
        {
            int lanes = Vector<T>.Count;
            for (int j = layers - 1; j >= 1; j--)
            {
                int kp = np[j - 1];
                T* input = act[c, j - 1];
                VectorOps<T>.MultiplyAccumulate(dz, 1, np[j], n[j], rows, input, kp, acc + weightOffset[j], kp);
                SumRows(dz, rows, np[j], acc + biasOffset[j]);
                NativeMemory.Clear(dPrev, (nuint)((long)rows * kp * sizeof(T)));
                VectorOps<T>.MultiplyAccumulate(dz, np[j], 1, rows, n[j], backwardW[j], kp, dPrev, kp);

                // Through the sigmoid: da * a (1 - a).
                for (long k = 0; k < (long)rows * kp; k += lanes)
                {
                    var a = VectorOps<T>.Load(input + k);
                    VectorOps<T>.Store(dPrev + k, VectorOps<T>.Load(dPrev + k) * a * (Vector<T>.One - a));
                }

                T* swap = dz;
                dz = dPrev;
                dPrev = swap;
            }

            // Layer 0: its behaviour columns and the behaviour itself; the state part waits for both behaviours.
            VectorOps<T>.MultiplyAccumulate(dz, 1, np[0], n[0], rows, behaviour, ep, acc + weightOffset[0] + hp, hp + ep);
            SumRows(dz, rows, np[0], acc + biasOffset[0]);
            if (c == 0)
            {
                new ReadOnlySpan<T>(dz, rows * np[0]).CopyTo(new Span<T>(dSum, rows * np[0]));
            }
            else
            {
                VectorOps<T>.AddInPlace(dSum, dz, rows * np[0]);
            }

            NativeMemory.Clear(dIn, (nuint)((long)rows * ep * sizeof(T)));
            VectorOps<T>.MultiplyAccumulate(dz, np[0], 1, rows, n[0], backwardBehaviour, ep, dIn, ep);
            T* target = c == 0 ? grads!.Behaviours : grads!.Negatives;
            for (int i = 0; i < rows; i++)
            {
                new ReadOnlySpan<T>(dIn + (i * ep), e).CopyTo(new Span<T>(target + (((long)Pairs[tile + i] + 1) * e), e));
            }
        }

        private void Gather(int tile, int rows, T* hT, T*[] eT)
        {
            for (int i = 0; i < rows; i++)
            {
                long at = Pairs[tile + i];
                new ReadOnlySpan<T>(p.States + (at * h), h).CopyTo(new Span<T>(hT + (i * hp), h));
                new ReadOnlySpan<T>(p.Behaviours + ((at + 1) * e), e).CopyTo(new Span<T>(eT[0] + (i * ep), e));
                new ReadOnlySpan<T>(p.Negatives + ((at + 1) * e), e).CopyTo(new Span<T>(eT[1] + (i * ep), e));
            }
        }

        private static void SumRows(T* m, int rows, int width, T* sum)
        {
            for (int i = 0; i < rows; i++)
            {
                VectorOps<T>.AddInPlace(sum, m + ((long)i * width), width);
            }
        }

        private int[] FindPairs()
        {
            var pairs = new List<int>();
            for (int b = 0; b < p.Batch; b++)
            {
                byte* row = p.Mask + ((long)b * p.Steps);
                for (int t = 0; t + 1 < p.Steps; t++)
                {
                    if (row[t] != 0 && row[t + 1] != 0)
                    {
                        pairs.Add((b * p.Steps) + t);
                    }
                }
            }

            return pairs.ToArray();
        }

        /// <summary>Sums the workers' gradients in worker order and writes them in the tensors' layout.</summary>
        public void WriteWeightGradients(Gradients g)
        {
            T* total = accumulators;
            for (int c = 1; c < Losses.Length; c++)
            {
                VectorOps<T>.AddInPlace(total, accumulators + (c * accumulatorStride), (int)accumulatorStride);
            }

            for (int j = 0; j < layers; j++)
            {
                int k = In(j);
                T* w = (T*)g.Weights[j];
                T* source = total + weightOffset[j];
                int stride = j == 0 ? hp + ep : np[j - 1];
                for (int row = 0; row < n[j]; row++)
                {
                    T* s = source + ((long)row * stride);
                    if (j == 0)
                    {
                        new ReadOnlySpan<T>(s, h).CopyTo(new Span<T>(w + ((long)row * k), h));
                        new ReadOnlySpan<T>(s + hp, e).CopyTo(new Span<T>(w + ((long)row * k) + h, e));
                    }
                    else
                    {
                        new ReadOnlySpan<T>(s, k).CopyTo(new Span<T>(w + ((long)row * k), k));
                    }
                }

                new ReadOnlySpan<T>(total + biasOffset[j], n[j]).CopyTo(new Span<T>((T*)g.Biases[j], n[j]));
            }
        }

        public void Free()
        {
            for (int j = 0; j < layers; j++)
            {
                NativeMemory.AlignedFree(forwardW[j]);
                NativeMemory.AlignedFree(backwardW[j]);
                NativeMemory.AlignedFree(bias[j]);
            }

            NativeMemory.AlignedFree(forwardState);
            NativeMemory.AlignedFree(forwardBehaviour);
            NativeMemory.AlignedFree(backwardState);
            NativeMemory.AlignedFree(backwardBehaviour);
            NativeMemory.AlignedFree(accumulators);
        }
    }
}
