using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Auxiliary;

/// <summary>
/// The labelled-history auxiliary loss (DESIGN.md section 3): every valid history position carries a
/// 0/1 label y_t, and L_aux = BCE(sigmoid(h_t . e_t), y_t) averaged over the valid positions. No parameters.
/// </summary>
public sealed class LabelledHistoryAuxiliaryLoss : nn.Module<Tensor, Tensor, Tensor, int[], Tensor>
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
    /// <param name="lengths">Valid lengths on the host.</param>
    /// <returns>A scalar; zero (with a graph) when the batch has no valid position.</returns>
    /// <exception cref="ArgumentException">The state and behaviour widths differ.</exception>
    public override Tensor forward(Tensor states, Tensor behaviours, Tensor historyLabels, int[] lengths)
    {
        ArgumentNullException.ThrowIfNull(historyLabels);
        if (states.shape[^1] != behaviours.shape[^1])
        {
            throw new ArgumentException(
                $"The inner product h_t . e_t needs equal widths: states have {states.shape[^1]}, behaviours {behaviours.shape[^1]}.", nameof(states));
        }

        using var scope = NewDisposeScope();
        long batch = states.shape[0], steps = states.shape[1];
        var valid = ValidPositions.All(lengths, steps);
        if (valid.Length == 0)
        {
            return (states.sum() * 0).MoveToOuterDisposeScope();
        }

        var index = tensor(valid, device: states.device);
        var h = states.reshape(batch * steps, -1).index_select(0, index);
        var e = behaviours.reshape(batch * steps, -1).index_select(0, index);
        var y = historyLabels.reshape(batch * steps).index_select(0, index).to_type(h.dtype);
        return nn.functional.binary_cross_entropy_with_logits((h * e).sum(-1), y).MoveToOuterDisposeScope();
    }
}
