using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Attention;

/// <summary>Shape checks of the attention modules' inputs.</summary>
internal static class AttentionGuard
{
    /// <exception cref="ArgumentException">A shape does not fit; the message names the tensor and its shape.</exception>
    public static void Check(Tensor states, Tensor target, Tensor mask, long keySize, long querySize)
    {
        if (states.dim() != 3 || states.shape[2] != keySize)
        {
            throw new ArgumentException($"states have shape [{string.Join(", ", states.shape)}]: expected [B, T, {keySize}].", nameof(states));
        }

        if (target.dim() != 2 || target.shape[0] != states.shape[0] || target.shape[1] != querySize)
        {
            throw new ArgumentException($"target has shape [{string.Join(", ", target.shape)}]: expected [{states.shape[0]}, {querySize}].", nameof(target));
        }

        if (mask.dtype != ScalarType.Bool || mask.dim() != 2 || mask.shape[0] != states.shape[0] || mask.shape[1] != states.shape[1])
        {
            throw new ArgumentException($"mask has shape [{string.Join(", ", mask.shape)}]: expected [{states.shape[0]}, {states.shape[1]}].", nameof(mask));
        }
    }
}
