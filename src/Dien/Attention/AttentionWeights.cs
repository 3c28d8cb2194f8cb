using Dien.Runtime;
using static TorchSharp.torch;

namespace Dien.Attention;

/// <summary>Turns attention scores into weights over the valid positions of each row.</summary>
internal static class AttentionWeights
{
    /// <summary>Weights of <paramref name="scores"/> under <paramref name="normalization"/>, exactly 0 where <paramref name="mask"/> is false.</summary>
    /// <param name="scores">[B, T].</param>
    /// <param name="mask">bool [B, T].</param>
    /// <param name="normalization">Softmax over the valid positions, or a sigmoid of each.</param>
    /// <returns>[B, T]; all zero for a row without valid positions.</returns>
    public static Tensor Of(Tensor scores, Tensor mask, AttentionNormalization normalization)
        => normalization == AttentionNormalization.Sigmoid
            ? scores.sigmoid() * mask.to_type(scores.dtype)
            : MaskedSoftmax.Apply(scores, mask);
}
