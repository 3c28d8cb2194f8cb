using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.Primitives;

/// <summary>The checks the fused MLP kernels make of their layer tensors, so a bad call fails with a message naming the tensor.</summary>
internal static class MlpLayersGuard
{
    /// <summary>
    /// Weights [N_j, K_j] and biases [N_j] form a chain from an input of width <paramref name="input"/> to one
    /// output, each of <paramref name="dtype"/> on CPU.
    /// </summary>
    /// <exception cref="ArgumentException">A layer does not fit; the message names it.</exception>
    public static void Check(IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases, long input, ScalarType dtype)
    {
        if (weights.Count == 0 || weights.Count != biases.Count)
        {
            throw new ArgumentException($"{weights.Count} weights and {biases.Count} biases: expected one of each per layer, at least one layer.", nameof(weights));
        }

        RequireCpu(weights.Select((w, j) => (w, $"weights[{j}]")).Concat(biases.Select((b, j) => (b, $"biases[{j}]"))), dtype, "the inputs");
        for (int j = 0; j < weights.Count; j++)
        {
            if (weights[j].dim() != 2 || weights[j].shape[1] != input || biases[j].dim() != 1 || biases[j].shape[0] != weights[j].shape[0])
            {
                throw new ArgumentException(
                    $"layer {j}: weight [{Shape(weights[j])}] and bias [{Shape(biases[j])}] do not fit an input of width {input}.", nameof(weights));
            }

            input = weights[j].shape[0];
        }

        if (input != 1)
        {
            throw new ArgumentException($"the last layer has {input} outputs: the scorer ends in one output.", nameof(weights));
        }
    }

    /// <summary>Each named tensor is of <paramref name="dtype"/> on CPU, like <paramref name="reference"/>.</summary>
    /// <exception cref="ArgumentException">One is not; the message names it.</exception>
    public static void RequireCpu(IEnumerable<(Tensor Tensor, string Name)> tensors, ScalarType dtype, string reference)
    {
        foreach (var (t, name) in tensors)
        {
            if (t.dtype != dtype || t.device_type != DeviceType.CPU)
            {
                throw new ArgumentException($"{name} is {t.dtype} on {t.device}: expected {dtype} on CPU like {reference}.", name);
            }
        }
    }

    /// <summary>A tensor's shape as "a, b, c".</summary>
    public static string Shape(Tensor t) => string.Join(", ", t.shape);
}
