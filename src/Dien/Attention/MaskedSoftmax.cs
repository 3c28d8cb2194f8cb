using Dien.Runtime;
using static TorchSharp.torch;

namespace Dien.Attention;

/// <summary>Softmax over the valid positions of each row.</summary>
internal static class MaskedSoftmax
{
    /// <summary>Softmax of <paramref name="scores"/> over positions where <paramref name="mask"/> is true.</summary>
    /// <param name="scores">[B, T].</param>
    /// <param name="mask">bool [B, T].</param>
    /// <returns>[B, T]: each row sums to 1 over its valid positions, exactly 0 elsewhere; all zero for a row without valid positions.</returns>
    public static Tensor Apply(Tensor scores, Tensor mask)
        // Far below any real score, so exp underflows to exactly 0 at masked positions; unlike -inf it keeps
        // a row with no valid position finite (uniform, then zeroed by the mask) instead of NaN.
        => scores.masked_fill(mask.logical_not(), HeldScalars.MaskedScore).softmax(-1) * mask.to_type(scores.dtype);
}
