using Dien.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Dien.Attention;

/// <summary>
/// Paper eq. 8: a_t = exp(h_t W e_a) / sum_j exp(h_j W e_a) over the valid positions, W: [H, E]
/// (state-dict key <c>weight</c>).
/// </summary>
internal sealed class BilinearAttention : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "weight")]
    private readonly Parameter _weight;

    /// <summary>Creates the attention.</summary>
    /// <param name="keySize">Width of the attended states (H, or E for DIN).</param>
    /// <param name="querySize">Width of the query, the target ad (E).</param>
    public BilinearAttention(int keySize, int querySize)
        : base(nameof(BilinearAttention))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(keySize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(querySize);
        double bound = 1.0 / Math.Sqrt(querySize);
        _weight = new Parameter(empty(keySize, querySize).uniform_(-bound, bound));
        RegisterComponents();
    }

    /// <summary>How the scores become weights.</summary>
    /// <value>The default value is <see cref="AttentionNormalization.Softmax"/> over the valid positions.</value>
    public AttentionNormalization Normalization { get; set; }

    /// <summary>Attention weights of each position.</summary>
    /// <param name="states">States h_t, [B, T, H].</param>
    /// <param name="target">Target ad e_a, [B, E].</param>
    /// <param name="mask">True at valid positions, bool [B, T].</param>
    /// <returns>[B, T]; zero at padded positions and for empty rows.</returns>
    public override Tensor forward(Tensor states, Tensor target, Tensor mask)
    {
        Guard.Shape(states, new[] { Guard.Any, Guard.Any, _weight.size(0) });
        Guard.Shape(target, new[] { states.size(0), _weight.size(1) });
        Guard.Mask(mask, states.size(0), states.size(1));
        using var scope = NewDisposeScope();
        var projected = nn.functional.linear(target, _weight); // W e_a: [B, H]
        var scores = states.matmul(projected.unsqueeze(-1)).squeeze(-1); // h_t . (W e_a): [B, T]
        return AttentionWeights.Of(scores, mask, Normalization).MoveToOuterDisposeScope();
    }
}
