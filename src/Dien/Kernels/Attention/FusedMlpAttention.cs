using Dien.Kernels.Primitives;
using Dien.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.Attention;

/// <summary>
/// The MLP attention's scores as fused CPU kernels (<see cref="MlpAttentionKernel{T}"/>): the same values and
/// gradients as the libtorch composition in <c>MlpAttention</c>, which stays the reference and the path on
/// other devices. The masked softmax that follows stays in libtorch.
/// </summary>
internal static class FusedMlpAttention
{
    /// <summary>Whether the kernels can take these keys (CPU, float32/float64).</summary>
    public static bool Supports(Tensor keys)
        => keys.device_type == DeviceType.CPU && (keys.dtype == ScalarType.Float32 || keys.dtype == ScalarType.Float64);

    /// <summary>f(q_b, k_{b,t}) at every valid position, 0 at masked ones.</summary>
    /// <param name="keys">k, [B, T, H] (the extractor states); or packed, [N, H]: the N valid positions of <paramref name="mask"/> row after row.</param>
    /// <param name="query">q, [B, H] (the projected target).</param>
    /// <param name="mask">Bool [B, T], true at valid positions.</param>
    /// <param name="weights">Weight of each layer: the first [N_0, 4H] over [q ; k ; q - k ; q * k], the last [1, N].</param>
    /// <param name="biases">Bias of each layer.</param>
    /// <param name="keyRows">Null, or keys are one block per history, [R, T, H], and row b reads block keyRows[b]:
    /// candidates that share a history read its states where they are, with no copy per row. Where a gradient is
    /// needed each row gets its own copy, so that autograd sums the rows' gradients into their history's block.</param>
    /// <returns>Scores [B, T].</returns>
    /// <exception cref="ArgumentException">A device, dtype or shape does not fit; the message names the tensor.</exception>
    public static Tensor Scores(Tensor keys, Tensor query, Tensor mask, IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases, int[]? keyRows = null)
    {
        Validate(keys, query, mask, weights, biases, keyRows);
        bool needsGrad = torch.is_grad_enabled()
            && (keys.requires_grad || query.requires_grad || weights.Any(w => w.requires_grad) || biases.Any(b => b.requires_grad));
        if (!needsGrad)
        {
            return MlpAttentionFunction.Inference(keys, query, mask, weights, biases, keyRows);
        }

        if (keyRows is not null)
        {
            using var index = torch.tensor(Array.ConvertAll(keyRows, r => (long)r));
            return Scores(keys.index_select(0, index), query, mask, weights, biases);
        }

        var vars = new List<object> { keys, query, mask };
        for (int j = 0; j < weights.Count; j++)
        {
            vars.Add(weights[j]);
            vars.Add(biases[j]);
        }

        return MlpAttentionFunction.apply(vars.ToArray());
    }

    private static void Validate(Tensor keys, Tensor query, Tensor mask, IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases, int[]? keyRows)
    {
        if (!Supports(keys))
        {
            throw new ArgumentException($"keys are {keys.dtype} on {keys.device}: the fused attention takes Float32 or Float64 on CPU.", nameof(keys));
        }

        if (keyRows is not null)
        {
            Guard.Shape(keys, new[] { Guard.Any, Guard.Any, Guard.Any });
            Guard.Shape(query, new[] { keyRows.LongLength, keys.size(2) });
            Guard.Mask(mask, keyRows.LongLength, keys.size(1), onCpu: true);

            // Read once, not once per row in the check below: each read is a native call.
            long blocks = keys.size(0);
            int bad = Array.FindIndex(keyRows, r => r < 0 || r >= blocks);
            if (bad >= 0)
            {
                throw new ArgumentException($"keyRows[{bad}] = {keyRows[bad]}: keys have shape {Guard.ShapeOf(keys)}, so a row reads a block 0 .. {blocks - 1}.", nameof(keyRows));
            }
        }
        else if (keys.dim() == 2)
        {
            // Packed: the kernel checks N against the mask's valid positions.
            Guard.Mask(mask, Guard.Any, Guard.Any, onCpu: true);
            Guard.Shape(query, new[] { mask.size(0), keys.size(1) });
        }
        else
        {
            Guard.Shape(keys, new[] { Guard.Any, Guard.Any, Guard.Any });
            Guard.Shape(query, new[] { keys.size(0), keys.size(2) });
            Guard.Mask(mask, keys.size(0), keys.size(1), onCpu: true);
        }

        Guard.That(keys.numel() <= int.MaxValue / 4, $"keys {Guard.ShapeOf(keys)} are too large for the fused kernel.", nameof(keys));
        Guard.CpuLike(query, keys.dtype, "the keys");
        MlpStack.CheckLayers(weights, biases, 4 * keys.size(-1), keys.dtype);
    }
}
