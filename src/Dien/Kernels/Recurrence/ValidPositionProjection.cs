using Dien.Data.Batching;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.Recurrence;

/// <summary>
/// The input projection of a recurrence, <c>x W^T + b</c> at every step, computed on the valid positions only
/// when padding is most of the batch: the valid rows are gathered and projected in one product. The fused kernels
/// read that packed projection as it is (<see cref="FusedRecurrence.Run"/> with its width); the libtorch
/// composition gets it scattered into a zero tensor of the padded shape. A batch of random lengths (unbucketed)
/// is mostly padding, and the product over it was most of what padding cost a step.
/// </summary>
internal static class ValidPositionProjection
{
    /// <summary>The share of valid positions below which gathering them pays for its copies.</summary>
    public const double GatherBelow = 0.5;

    /// <summary>Whether to gather: fewer than <see cref="GatherBelow"/> of the <c>B x steps</c> positions are valid, and <paramref name="x"/> is contiguous.</summary>
    public static bool Pays(Tensor x, int[] lengths, int steps) =>
        ValidPositions.Count(lengths) < GatherBelow * x.size(0) * steps && x.is_contiguous();

    /// <summary>
    /// The projection of the valid positions of <paramref name="x"/> [B, T, E], row after row: [sum of lengths, O].
    /// </summary>
    /// <param name="x">The inputs [B, T, E], contiguous.</param>
    /// <param name="lengths">Valid positions per row, each at most T.</param>
    /// <param name="weight">W [O, E].</param>
    /// <param name="bias">b [O], or null.</param>
    public static Tensor Gather(Tensor x, int[] lengths, Tensor weight, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        long total = x.size(1);
        var source = ValidPositions.Positions(lengths, total);
        var gathered = x.reshape(x.size(0) * total, x.size(2)).index_select(0, tensor(source, device: x.device));
        return nn.functional.linear(gathered, weight, bias).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The projection of <paramref name="x"/>'s first <paramref name="steps"/> positions, [B, steps, O]: gathered
    /// (<see cref="Gather"/>) and scattered back where that <see cref="Pays"/>, a padding position then holding
    /// zero; else one product over every position (a padding position holds <c>b</c>). No recurrence reads padding.
    /// </summary>
    /// <param name="x">The inputs [B, T, E], T at least <paramref name="steps"/>.</param>
    /// <param name="lengths">Valid positions per row, each at most <paramref name="steps"/>.</param>
    /// <param name="steps">The longest length: the projection's width.</param>
    /// <param name="weight">W [O, E].</param>
    /// <param name="bias">b [O], or null.</param>
    public static Tensor Linear(Tensor x, int[] lengths, int steps, Tensor weight, Tensor? bias)
    {
        if (!Pays(x, lengths, steps))
        {
            return nn.functional.linear(x.narrow(1, 0, steps), weight, bias);
        }

        using var scope = NewDisposeScope();
        var projected = Gather(x, lengths, weight, bias);
        long batch = x.size(0);
        return zeros(new[] { batch * steps, projected.size(1) }, dtype: projected.dtype, device: projected.device)
            .index_copy(0, tensor(ValidPositions.Positions(lengths, steps), device: x.device), projected)
            .view(batch, steps, projected.size(1))
            .MoveToOuterDisposeScope();
    }
}
