using Dien.Kernels.Primitives;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.Head;

/// <summary>
/// The head's layers after its input normalisation (hidden layers with PReLU, then the output layer's logits) in one CPU
/// kernel while training (<see cref="HeadKernel{T}"/>): the same values and gradients as libtorch's linear and prelu
/// layers, to float rounding. Inference, other devices and heads with dropout or Dice stay on libtorch.
/// </summary>
/// <remarks>
/// Why: the head was about a quarter of a training step on Amazon Beauty (about 1 ms of 4.4), most of it libtorch's
/// dispatch between fifteen small operations and products at half the kernels' rate (docs/performance.md).
/// </remarks>
internal static class FusedHead
{
    /// <summary>
    /// The logits [B, O] of the layers on <paramref name="x"/>, or null where the kernel does not take the call: a shape
    /// that does not fit (O other than 1 or 2, a shared slope), another device or dtype, or no gradient wanted.
    /// </summary>
    /// <param name="x">The normalised input [B, K].</param>
    /// <param name="weights">Each hidden layer's weight [N_j, K_j].</param>
    /// <param name="biases">Each hidden layer's bias [N_j].</param>
    /// <param name="slopes">Each hidden layer's PReLU slopes [N_j].</param>
    /// <param name="outputWeight">The output layer's weight [O, K_L].</param>
    /// <param name="outputBias">The output layer's bias [O], or null (the kernel needs one).</param>
    public static Tensor? TryApply(Tensor x, IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases, IReadOnlyList<Tensor> slopes, Tensor outputWeight, Tensor? outputBias)
    {
        if (!Takes(x, weights, biases, slopes, outputWeight, outputBias))
        {
            return null;
        }

        var args = new List<object> { x };
        for (int j = 0; j < weights.Count; j++)
        {
            args.Add(weights[j]);
            args.Add(biases[j]);
            args.Add(slopes[j]);
        }

        args.Add(outputWeight);
        args.Add(outputBias!);
        args.Add(weights.Count);
        return HeadFunction.apply(args.ToArray());
    }

    private static bool Takes(Tensor x, IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases, IReadOnlyList<Tensor> slopes, Tensor outputWeight, Tensor? outputBias)
    {
        // First the one check that turns every inference call away, before the shapes' native calls.
        if (!torch.is_grad_enabled() || x.dim() != 2 || outputBias is null || weights.Count != biases.Count || weights.Count != slopes.Count)
        {
            return false;
        }

        long width = x.size(1);
        for (int j = 0; j < weights.Count; j++)
        {
            long n = weights[j].size(0);
            if (weights[j].dim() != 2 || weights[j].size(1) != width || biases[j].dim() != 1 || biases[j].size(0) != n
                || slopes[j].dim() != 1 || slopes[j].size(0) != n)
            {
                return false;
            }

            width = n;
        }

        return outputWeight.dim() == 2 && outputWeight.size(1) == width && outputWeight.size(0) is 1 or 2
            && outputBias.dim() == 1 && outputBias.size(0) == outputWeight.size(0)
            && TrainingRoute.Takes([x, .. weights, .. biases, .. slopes, outputWeight, outputBias]);
    }
}
