using System.Numerics;
using System.Runtime.InteropServices;
using Dien.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.Primitives;

/// <summary>
/// The part the MLP kernels (<c>NextBehaviourLossKernel</c>, <c>MlpAttentionKernel</c>) share: a
/// chain of linear layers with sigmoid between them and one output, run over tiles of rows. Layer 0 is each
/// kernel's own (its input is built differently); this class packs every layer's bias and layers 1 .. L
/// (W^T [K, Np] for forward, W [N, Kp] for backward), runs them forward and backward over a tile, lays out
/// the per-chunk gradient accumulators and writes the summed gradients back in the tensors' layout.
/// </summary>
/// <remarks>
/// Activations of a tile: act[j] is [rows, Np_j]; a hidden layer's holds its sigmoid output once the next
/// layer has run, the last one holds the scores in lane 0 of each row. Accumulators: layer j's weight gradient
/// [N_j, stride_j] at WeightOffset[j] (stride_0 chosen by the kernel), then each bias gradient [Np_j].
/// </remarks>
internal sealed unsafe class MlpStack<T> : IDisposable
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>What a dot product's lane sum costs, in multiply-adds of a register (the choice of <see cref="productColumns"/>).</summary>
    private const int DotOverhead = 6;

    private readonly T*[] forwardW, backwardW, bias;

    // Per layer: its first columns, a whole number of registers, run as a matrix product; the rest up to N as dot products.
    private readonly int[] productColumns;

    /// <param name="widths">Output width of each layer, the last one 1.</param>
    /// <param name="weights">Weight of each layer [N_j, K_j] (layer 0's is not read here).</param>
    /// <param name="biases">Bias of each layer [N_j].</param>
    /// <param name="firstRowStride">Elements per row of layer 0's weight-gradient accumulator.</param>
    public MlpStack(int[] widths, nint[] weights, nint[] biases, int firstRowStride)
    {
        N = widths;
        Np = widths.Select(VectorOps<T>.Pad).ToArray();
        Layers = widths.Length;
        forwardW = new T*[Layers];
        backwardW = new T*[Layers];
        bias = new T*[Layers];
        for (int j = 0; j < Layers; j++)
        {
            bias[j] = PackedMatrix<T>.AllocClear(Np[j]);
            VectorOps<T>.Copy(bias[j], (T*)biases[j], N[j]);
            if (j > 0)
            {
                forwardW[j] = PackedMatrix<T>.Transposed((T*)weights[j], N[j], N[j - 1], 0, N[j - 1], Np[j]);
                backwardW[j] = PackedMatrix<T>.Padded((T*)weights[j], N[j], N[j - 1], 0, N[j - 1], Np[j - 1]);
            }
        }

        // A layer whose width ends a few lanes into its last register (50 of 64, the output's 1 of 16) computes those
        // columns as dot products along K, which cost their share of K, instead of a column block that costs all of K.
        productColumns = new int[Layers];
        for (int j = 1; j < Layers; j++)
        {
            int lanes = VectorOps<T>.PadWidth, rest = N[j] % lanes;
            productColumns[j] = rest > 0 && rest * ((Np[j - 1] / lanes) + DotOverhead) < N[j - 1] ? N[j] - rest : Np[j];
        }

        WeightOffset = new long[Layers];
        BiasOffset = new long[Layers];
        long offset = 0;
        for (int j = 0; j < Layers; j++)
        {
            WeightOffset[j] = offset;
            offset += (long)N[j] * (j == 0 ? firstRowStride : Np[j - 1]);
        }

        for (int j = 0; j < Layers; j++)
        {
            BiasOffset[j] = offset;
            offset += Np[j];
        }

        AccumulatorSize = offset;
    }

    /// <summary>Linear layers, the output layer included.</summary>
    public int Layers { get; }

    /// <summary>Output widths, and padded to whole vectors.</summary>
    public int[] N { get; }

    /// <inheritdoc cref="N"/>
    public int[] Np { get; }

    /// <summary>Where each layer's weight and bias gradients start in an accumulator block.</summary>
    public long[] WeightOffset { get; }

    /// <inheritdoc cref="WeightOffset"/>
    public long[] BiasOffset { get; }

    /// <summary>Elements of one chunk's accumulator block.</summary>
    public long AccumulatorSize { get; }

    /// <summary>Elements of the activations of layers 0 .. count - 1 for a tile of <paramref name="rows"/> rows.</summary>
    public long ActivationSize(int rows, int count)
    {
        long size = 0;
        for (int j = 0; j < count; j++)
        {
            size += (long)rows * Np[j];
        }

        return size;
    }

    /// <summary>Cuts act[0 .. count) for a tile of <paramref name="rows"/> rows out of scratch memory starting at <paramref name="from"/>.</summary>
    public T*[] Activations(T* from, int rows, int count)
    {
        var act = new T*[Math.Max(1, count)];
        for (int j = 0; j < count; j++)
        {
            act[j] = from;
            from += (long)rows * Np[j];
        }

        return act;
    }

    /// <summary>Layer j's padded bias, copied into each of <paramref name="rows"/> rows of <paramref name="z"/>.</summary>
    public void FillBias(int j, T* z, int rows)
    {
        for (int i = 0; i < rows; i++)
        {
            VectorOps<T>.Copy(z + ((long)i * Np[j]), bias[j], Np[j]);
        }
    }

    /// <summary>Layers 1 .. L over a tile whose layer-0 pre-activations are in act[0]; returns the logits' rows.</summary>
    public T* Forward(int rows, T*[] act)
    {
        for (int j = 1; j < Layers; j++)
        {
            VectorOps<T>.SigmoidInPlace(act[j - 1], rows * Np[j - 1]);
            FillBias(j, act[j], rows);
            int columns = productColumns[j];
            if (columns > 0)
            {
                VectorOps<T>.MultiplyAccumulateColumns(act[j - 1], Np[j - 1], 1, rows, N[j - 1], forwardW[j], Np[j], act[j], Np[j], columns);
            }

            // The padded lanes of act[j - 1] meet zero weights in backwardW's rows, as in the product.
            for (int n = columns; n < N[j]; n++)
            {
                T* w = backwardW[j] + ((long)n * Np[j - 1]);
                for (int i = 0; i < rows; i++)
                {
                    act[j][((long)i * Np[j]) + n] += VectorOps<T>.Dot(act[j - 1] + ((long)i * Np[j - 1]), w, Np[j - 1]);
                }
            }
        }

        return act[Layers - 1];
    }

    /// <summary>
    /// Back from the logits' gradient in <paramref name="dz"/> (lane 0 of each row) through layers L .. 1,
    /// accumulating their weight and bias gradients into <paramref name="acc"/>. <paramref name="spare"/> is a
    /// second buffer as large as dz. Returns the buffer that holds layer 0's pre-activation gradient [rows, Np_0].
    /// </summary>
    public T* Backward(int rows, T* dz, T* spare, T*[] act, T* acc)
    {
        for (int j = Layers - 1; j >= 1; j--)
        {
            int kp = Np[j - 1];
            T* input = act[j - 1];
            VectorOps<T>.MultiplyAccumulate(dz, 1, Np[j], N[j], rows, input, kp, acc + WeightOffset[j], kp);
            SumRows(dz, rows, Np[j], acc + BiasOffset[j]);
            NativeMemory.Clear(spare, (nuint)((long)rows * kp * sizeof(T)));
            VectorOps<T>.MultiplyAccumulate(dz, Np[j], 1, rows, N[j], backwardW[j], kp, spare, kp);

            // Through the sigmoid: da * a (1 - a).
            VectorOps<T>.ThroughSigmoid(spare, input, (long)rows * kp);

            T* swap = dz;
            dz = spare;
            spare = swap;
        }

        return dz;
    }

    /// <summary>sum[0 .. width) += every row of m [rows, width].</summary>
    public static void SumRows(T* m, int rows, int width, T* sum)
    {
        for (int i = 0; i < rows; i++)
        {
            VectorOps<T>.AddInPlace(sum, m + ((long)i * width), width);
        }
    }

    /// <summary>Sums <paramref name="chunks"/> accumulator blocks into the first, in chunk order.</summary>
    public void SumChunks(T* accumulators, int chunks)
    {
        for (int c = 1; c < chunks; c++)
        {
            VectorOps<T>.AddInPlace(accumulators, accumulators + (c * AccumulatorSize), (int)AccumulatorSize);
        }
    }

    /// <summary>Writes layers 1 .. L's weight gradients and every layer's bias gradient from a summed block.</summary>
    public void WriteGradients(T* total, nint[] dWeights, nint[] dBiases)
    {
        for (int j = 0; j < Layers; j++)
        {
            if (j > 0)
            {
                int k = N[j - 1];
                T* w = (T*)dWeights[j];
                for (int i = 0; i < N[j]; i++)
                {
                    VectorOps<T>.Copy(w + ((long)i * k), total + WeightOffset[j] + ((long)i * Np[j - 1]), k);
                }
            }

            VectorOps<T>.Copy((T*)dBiases[j], total + BiasOffset[j], N[j]);
        }
    }

    /// <summary>Frees the packed weights and biases.</summary>
    public void Dispose()
    {
        for (int j = 0; j < Layers; j++)
        {
            NativeMemory.AlignedFree(forwardW[j]);
            NativeMemory.AlignedFree(backwardW[j]);
            NativeMemory.AlignedFree(bias[j]);
        }
    }
}

/// <summary>What the fused MLP kernels require of their layer tensors.</summary>
internal static class MlpStack
{
    /// <summary>
    /// Weights [N_j, K_j] and biases [N_j] form a chain from an input of width <paramref name="input"/> to one
    /// output, each of <paramref name="dtype"/> on CPU.
    /// </summary>
    /// <exception cref="ArgumentException">A layer does not fit; the message names it.</exception>
    public static void CheckLayers(IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases, long input, ScalarType dtype)
    {
        Guard.That(weights.Count > 0 && weights.Count == biases.Count,
            $"{weights.Count} weights and {biases.Count} biases: expected one of each per layer, at least one layer.", nameof(weights));
        for (int j = 0; j < weights.Count; j++)
        {
            Guard.CpuLike(weights[j], dtype, "the inputs", $"weights[{j}]");
            Guard.CpuLike(biases[j], dtype, "the inputs", $"biases[{j}]");
        }

        for (int j = 0; j < weights.Count; j++)
        {
            Guard.That(weights[j].dim() == 2 && weights[j].size(1) == input && biases[j].dim() == 1 && biases[j].size(0) == weights[j].size(0),
                $"layer {j}: weight {Guard.ShapeOf(weights[j])} and bias {Guard.ShapeOf(biases[j])} do not fit an input of width {input}.", nameof(weights));
            input = weights[j].size(0);
        }

        Guard.That(input == 1, $"the last layer has {input} outputs: the scorer ends in one output.", nameof(weights));
    }
}
