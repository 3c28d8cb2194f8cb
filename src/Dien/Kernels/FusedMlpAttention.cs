using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels;

/// <summary>
/// The MLP attention's scores as fused CPU kernels (<see cref="AttentionMlpKernel{T}"/>): the same values and
/// gradients as the libtorch composition in <c>MlpAttention</c>, which stays the reference and the path on
/// other devices. The masked softmax that follows stays in libtorch.
/// </summary>
internal static class FusedMlpAttention
{
    /// <summary>Whether the kernels can take these keys (CPU, float32/float64).</summary>
    public static bool Supports(Tensor keys)
        => keys.device_type == DeviceType.CPU && (keys.dtype == ScalarType.Float32 || keys.dtype == ScalarType.Float64);

    /// <summary>f(q_b, k_{b,t}) at every valid position, 0 at masked ones.</summary>
    /// <param name="keys">k, [B, T, H] (the extractor states).</param>
    /// <param name="query">q, [B, H] (the projected target).</param>
    /// <param name="mask">Bool [B, T], true at valid positions.</param>
    /// <param name="weights">Weight of each layer: the first [N_0, 4H] over [q ; k ; q - k ; q * k], the last [1, N].</param>
    /// <param name="biases">Bias of each layer.</param>
    /// <returns>Scores [B, T].</returns>
    /// <exception cref="ArgumentException">A device, dtype or shape does not fit; the message names the tensor.</exception>
    public static Tensor Scores(Tensor keys, Tensor query, Tensor mask, IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases)
    {
        Validate(keys, query, mask, weights, biases);
        bool needsGrad = torch.is_grad_enabled()
            && (keys.requires_grad || query.requires_grad || weights.Any(w => w.requires_grad) || biases.Any(b => b.requires_grad));
        if (!needsGrad)
        {
            return AttentionMlpFunction.Inference(keys, query, mask, weights, biases);
        }

        var vars = new List<object> { keys, query, mask };
        for (int j = 0; j < weights.Count; j++)
        {
            vars.Add(weights[j]);
            vars.Add(biases[j]);
        }

        return AttentionMlpFunction.apply(vars.ToArray());
    }

    private static void Validate(Tensor keys, Tensor query, Tensor mask, IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases)
    {
        if (!Supports(keys))
        {
            throw new ArgumentException($"keys are {keys.dtype} on {keys.device}: the fused attention takes Float32 or Float64 on CPU.", nameof(keys));
        }

        if (keys.dim() != 3 || query.dim() != 2 || query.shape[0] != keys.shape[0] || query.shape[1] != keys.shape[2])
        {
            throw new ArgumentException($"keys [{Shape(keys)}] and query [{Shape(query)}] must be [B, T, H] and [B, H].", nameof(query));
        }

        if (mask.dtype != ScalarType.Bool || mask.device_type != DeviceType.CPU || mask.dim() != 2 || mask.shape[0] != keys.shape[0] || mask.shape[1] != keys.shape[1])
        {
            throw new ArgumentException($"mask is {mask.dtype} [{Shape(mask)}] on {mask.device}: expected Bool [{keys.shape[0]}, {keys.shape[1]}] on CPU.", nameof(mask));
        }

        if (keys.numel() > int.MaxValue / 4)
        {
            throw new ArgumentException($"keys [{Shape(keys)}] are too large for the fused kernel.", nameof(keys));
        }

        foreach (var (t, name) in new[] { (query, nameof(query)) }.Concat(weights.Select((w, j) => (w, $"weights[{j}]"))).Concat(biases.Select((b, j) => (b, $"biases[{j}]"))))
        {
            if (t.dtype != keys.dtype || t.device_type != DeviceType.CPU)
            {
                throw new ArgumentException($"{name} is {t.dtype} on {t.device}: expected {keys.dtype} on CPU like the keys.", name);
            }
        }

        if (weights.Count == 0 || weights.Count != biases.Count)
        {
            throw new ArgumentException($"{weights.Count} weights and {biases.Count} biases: expected one of each per layer, at least one layer.", nameof(weights));
        }

        long input = 4 * keys.shape[2];
        for (int j = 0; j < weights.Count; j++)
        {
            if (weights[j].dim() != 2 || weights[j].shape[1] != input || biases[j].dim() != 1 || biases[j].shape[0] != weights[j].shape[0])
            {
                throw new ArgumentException($"layer {j}: weight [{Shape(weights[j])}] and bias [{Shape(biases[j])}] do not fit an input of width {input}.", nameof(weights));
            }

            input = weights[j].shape[0];
        }

        if (input != 1)
        {
            throw new ArgumentException($"the last layer has {input} outputs: the scorer ends in one score.", nameof(weights));
        }
    }

    private static string Shape(Tensor t) => string.Join(", ", t.shape);
}
