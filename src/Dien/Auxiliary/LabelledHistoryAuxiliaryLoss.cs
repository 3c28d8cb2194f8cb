using Dien.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Auxiliary;

/// <summary>
/// The labelled-history auxiliary loss (the paper's interest extractor layer): every valid history position carries a
/// 0/1 label y_t, and L_aux = BCE(sigmoid(h_t . e_t), y_t) averaged over the valid positions. No parameters.
/// </summary>
internal sealed class LabelledHistoryAuxiliaryLoss : nn.Module<Tensor, Tensor, Tensor, Tensor, Tensor>
{
    /// <summary>Creates the loss.</summary>
    public LabelledHistoryAuxiliaryLoss()
        : base(nameof(LabelledHistoryAuxiliaryLoss))
    {
        RegisterComponents();
    }

    /// <summary>Computes L_aux.</summary>
    /// <param name="states">Extractor states h_t, [B, T, H] with H = E.</param>
    /// <param name="behaviours">Behaviours e_t, [B, T, E].</param>
    /// <param name="historyLabels">Labels y_t, float 0/1 [B, T].</param>
    /// <param name="mask">True at valid positions, bool [B, T].</param>
    /// <returns>A scalar; zero (with a graph) when the batch has no valid position.</returns>
    /// <exception cref="ArgumentException">A shape does not fit, or the state and behaviour widths differ.</exception>
    public override Tensor forward(Tensor states, Tensor behaviours, Tensor historyLabels, Tensor mask)
    {
        Guard.Shape(states, new[] { Guard.Any, Guard.Any, Guard.Any });
        Guard.Shape(behaviours, new[] { states.size(0), states.size(1), states.size(2) }, "the inner product needs the width of the states");
        Guard.Mask(mask, states.size(0), states.size(1));
        Guard.SameShape(historyLabels, mask);
        using var scope = NewDisposeScope();
        var valid = mask.to_type(states.dtype);
        var logits = (states * behaviours).sum(-1);
        // Padded positions are weighted by exactly 0 (no gather: its backward is a slow scatter).
        var loss = nn.functional.binary_cross_entropy_with_logits(logits, historyLabels.to_type(states.dtype), reduction: nn.Reduction.None) * valid;
        return (loss.sum() / valid.sum().clamp_min(HeldScalars.One)).MoveToOuterDisposeScope();
    }
}
