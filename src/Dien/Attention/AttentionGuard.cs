using static TorchSharp.torch;

namespace Dien.Attention;

/// <summary>Shape checks of the attention modules' inputs.</summary>
internal static class AttentionGuard
{
    /// <exception cref="ArgumentException">A shape does not fit; the message names the tensor and its shape.</exception>
    public static void Check(Tensor keys, Tensor query, Tensor mask, long keySize, long querySize)
    {
        if (keys.dim() != 3 || keys.shape[2] != keySize)
        {
            throw new ArgumentException($"keys have shape [{string.Join(", ", keys.shape)}]: expected [B, T, {keySize}].", nameof(keys));
        }

        if (query.dim() != 2 || query.shape[0] != keys.shape[0] || query.shape[1] != querySize)
        {
            throw new ArgumentException($"query has shape [{string.Join(", ", query.shape)}]: expected [{keys.shape[0]}, {querySize}].", nameof(query));
        }

        if (mask.dim() != 2 || mask.shape[0] != keys.shape[0] || mask.shape[1] != keys.shape[1])
        {
            throw new ArgumentException($"mask has shape [{string.Join(", ", mask.shape)}]: expected [{keys.shape[0]}, {keys.shape[1]}].", nameof(mask));
        }
    }
}
