using System.Numerics;
using Dien.Kernels.Primitives;
using Dien.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.Attention;

/// <summary>
/// The autograd node of the fused MLP attention scores: forward runs <see cref="MlpAttentionKernel{T}.Forward"/>
/// and keeps the hidden activations; backward runs the hand-written backward kernel. Arguments, in order:
/// keys, query, mask, then the weight and bias of each layer.
/// </summary>
/// <remarks>Stateless: libtorch keeps one instance; per-call state travels in the context.</remarks>
internal sealed class MlpAttentionFunction : torch.autograd.SingleTensorFunction<MlpAttentionFunction>
{
    /// <inheritdoc/>
    public override string Name => nameof(MlpAttentionFunction);

    /// <summary>
    /// The scores without a graph node or saved activations. With <paramref name="keyRows"/>, keys are one block per
    /// history, [R, T, H], and row b reads block keyRows[b].
    /// </summary>
    public static Tensor Inference(Tensor keys, Tensor query, Tensor mask, IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases, int[]? keyRows = null)
    {
        using var scope = NewDisposeScope();
        // No graph here: the tensors are read where they are, without a detached handle each.
        var inputs = new Inputs(
            TensorMemory.Readable(keys), TensorMemory.Readable(query), TensorMemory.Readable(mask),
            weights.Select(TensorMemory.Readable).ToList(), biases.Select(TensorMemory.Readable).ToList());
        inputs.KeyRows = keyRows;
        var scores = empty(mask.size(0), mask.size(1), dtype: keys.dtype);
        inputs.Forward(scores, null);
        return scores.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        StepTimeline.Mark("MlpAttentionFunction.forward: in");
        var (weights, biases) = Layers(vars);
        var inputs = Inputs.Of((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], weights, biases);
        var keys = inputs.Keys;
        var scores = empty(inputs.Mask.size(0), inputs.Mask.size(1), dtype: keys.dtype);
        int width = keys.dtype == ScalarType.Float32 ? MlpAttentionKernel<float>.SavedWidth(inputs.Widths) : MlpAttentionKernel<double>.SavedWidth(inputs.Widths);

        // One saved row per key: [B, T, width], or [N, width] for packed keys.
        var saved = empty([.. Sizes.AllButLast(keys), width], dtype: keys.dtype);
        inputs.Forward(scores, saved);
        ctx.save_for_backward([inputs.Keys, inputs.Query, inputs.Mask, saved, .. inputs.Weights, .. inputs.Biases]);
        StepTimeline.Mark("MlpAttentionFunction.forward: out");
        return scores;
    }

    /// <inheritdoc/>
    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor grad_output)
    {
        StepTimeline.Mark("MlpAttentionFunction.backward: in");
        using var scope = NewDisposeScope();
        var s = ctx.get_saved_variables();
        int layers = (s.Count - 4) / 2;
        var inputs = new Inputs(s[0], s[1], s[2], s.Skip(4).Take(layers).ToList(), s.Skip(4 + layers).ToList());
        var dScores = grad_output.contiguous();
        var dKeys = zeros_like(inputs.Keys);
        var dQuery = empty_like(inputs.Query);
        var dWeights = inputs.Weights.Select(w => empty_like(w)).ToList();
        var dBiases = inputs.Biases.Select(b => empty_like(b)).ToList();
        inputs.Backward(dScores, s[3], dKeys, dQuery, dWeights, dBiases);

        var result = new List<Tensor> { dKeys.MoveToOuterDisposeScope(), dQuery.MoveToOuterDisposeScope(), null! };
        for (int j = 0; j < layers; j++)
        {
            result.Add(dWeights[j].MoveToOuterDisposeScope());
            result.Add(dBiases[j].MoveToOuterDisposeScope());
        }

        StepTimeline.Mark("MlpAttentionFunction.backward: out");
        return result;
    }

    private static (List<Tensor> Weights, List<Tensor> Biases) Layers(object[] vars)
    {
        var weights = new List<Tensor>();
        var biases = new List<Tensor>();
        for (int i = 3; i + 1 < vars.Length; i += 2)
        {
            weights.Add((Tensor)vars[i]);
            biases.Add((Tensor)vars[i + 1]);
        }

        return (weights, biases);
    }

    /// <summary>Contiguous, detached inputs and the kernel calls over them.</summary>
    private sealed class Inputs
    {
        public Inputs(Tensor keys, Tensor query, Tensor mask, List<Tensor> weights, List<Tensor> biases)
        {
            Keys = keys;
            Query = query;
            Mask = mask;
            Weights = weights;
            Biases = biases;
            Widths = weights.Select(w => (int)w.size(0)).ToArray();
        }

        public Tensor Keys { get; }

        public Tensor Query { get; }

        public Tensor Mask { get; }

        public List<Tensor> Weights { get; }

        public List<Tensor> Biases { get; }

        public int[] Widths { get; }

        /// <summary>Null, or the history block of the keys each row reads (forward only).</summary>
        public int[]? KeyRows { get; set; }

        public static Inputs Of(Tensor keys, Tensor query, Tensor mask, IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases)
            => new(keys.detach().contiguous(), query.detach().contiguous(), mask.detach().contiguous(),
                weights.Select(w => w.detach().contiguous()).ToList(), biases.Select(b => b.detach().contiguous()).ToList());

        public void Forward(Tensor scores, Tensor? saved)
        {
            if (Keys.dtype == ScalarType.Float32)
            {
                Forward<float>(scores, saved);
            }
            else
            {
                Forward<double>(scores, saved);
            }
        }

        public void Backward(Tensor dScores, Tensor saved, Tensor dKeys, Tensor dQuery, List<Tensor> dWeights, List<Tensor> dBiases)
        {
            if (Keys.dtype == ScalarType.Float32)
            {
                Backward<float>(dScores, saved, dKeys, dQuery, dWeights, dBiases);
            }
            else
            {
                Backward<double>(dScores, saved, dKeys, dQuery, dWeights, dBiases);
            }
        }

        private unsafe void Forward<T>(Tensor scores, Tensor? saved)
            where T : unmanaged, IFloatingPointIeee754<T>
            => MlpAttentionKernel<T>.Forward(Problem<T>(), TensorMemory.Pointer<T>(scores), TensorMemory.Pointer<T>(saved), KernelWorkers.Count);

        private unsafe void Backward<T>(Tensor dScores, Tensor saved, Tensor dKeys, Tensor dQuery, List<Tensor> dWeights, List<Tensor> dBiases)
            where T : unmanaged, IFloatingPointIeee754<T>
            => MlpAttentionKernel<T>.Backward(
                Problem<T>(), TensorMemory.Pointer<T>(dScores), TensorMemory.Pointer<T>(saved), TensorMemory.Pointer<T>(dKeys), TensorMemory.Pointer<T>(dQuery),
                TensorMemory.Addresses<T>(dWeights), TensorMemory.Addresses<T>(dBiases), KernelWorkers.Count);

        private unsafe MlpAttentionKernel<T>.Problem Problem<T>()
            where T : unmanaged, IFloatingPointIeee754<T>
        {
            int batch = (int)Mask.size(0), steps = (int)Mask.size(1);
            byte* mask = TensorMemory.Pointer<byte>(Mask);
            long[]? starts = null;
            if (Keys.dim() == 2)
            {
                (starts, long valid) = MlpAttentionKernel<T>.PackedStarts(mask, batch, steps);
                if (valid != Keys.size(0))
                {
                    throw new ArgumentException($"The packed keys have {Keys.size(0)} rows but the mask has {valid} valid positions.", "keys");
                }
            }

            return new()
            {
                Batch = batch, Steps = steps, Hidden = (int)Keys.size(-1), KeyStart = starts,
                KeyBlock = KeyRows is null ? null : Array.ConvertAll(KeyRows, r => (long)r * steps),
                Keys = TensorMemory.Pointer<T>(Keys), Query = TensorMemory.Pointer<T>(Query), Mask = mask,
                Widths = Widths, Weights = TensorMemory.Addresses<T>(Weights), Biases = TensorMemory.Addresses<T>(Biases),
            };
        }
    }
}
