using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.Recurrence;

/// <summary>
/// The input projection of a recurrence, <c>x W^T + b</c> at every step, computed on the valid positions only
/// when padding is most of the batch: the valid rows are gathered, projected in one product and scattered into a
/// zero tensor of the padded shape, which the recurrence reads at valid positions only. A batch of random lengths
/// (unbucketed) is mostly padding, and the product over it was most of what padding cost a step.
/// </summary>
internal static class ValidPositionProjection
{
    /// <summary>The share of valid positions below which gathering them pays for its copies.</summary>
    public const double GatherBelow = 0.5;

    /// <summary>
    /// The projection of <paramref name="x"/>'s first <paramref name="steps"/> positions, [B, steps, O]; a padding
    /// position holds zero when the valid positions were gathered, <c>b</c> otherwise (no recurrence reads it).
    /// </summary>
    /// <param name="x">The inputs [B, T, E], T at least <paramref name="steps"/>.</param>
    /// <param name="lengths">Valid positions per row, each at most <paramref name="steps"/>.</param>
    /// <param name="steps">The longest length: the projection's width.</param>
    /// <param name="weight">W [O, E].</param>
    /// <param name="bias">b [O], or null.</param>
    public static Tensor Linear(Tensor x, int[] lengths, int steps, Tensor weight, Tensor? bias)
    {
        long batch = x.shape[0], total = x.shape[1], width = x.shape[2];
        long valid = 0;
        foreach (int length in lengths)
        {
            valid += length;
        }

        if (valid >= GatherBelow * batch * steps || !x.is_contiguous())
        {
            return nn.functional.linear(x.narrow(1, 0, steps), weight, bias);
        }

        var source = new long[valid];
        var target = new long[valid];
        long k = 0;
        for (int b = 0; b < lengths.Length; b++)
        {
            for (int t = 0; t < lengths[b]; t++, k++)
            {
                (source[k], target[k]) = ((b * total) + t, (b * (long)steps) + t);
            }
        }

        using var scope = NewDisposeScope();
        var gathered = x.reshape(batch * total, width).index_select(0, tensor(source, device: x.device));
        var projected = nn.functional.linear(gathered, weight, bias);
        return zeros(new[] { batch * steps, projected.shape[1] }, dtype: projected.dtype, device: projected.device)
            .index_copy(0, tensor(target, device: x.device), projected)
            .view(batch, steps, projected.shape[1])
            .MoveToOuterDisposeScope();
    }
}
