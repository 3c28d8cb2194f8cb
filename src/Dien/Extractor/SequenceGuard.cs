using static TorchSharp.torch;

namespace Dien.Extractor;

/// <summary>Shape checks shared by the sequence modules, so a bad call fails with a message, not in native code.</summary>
internal static class SequenceGuard
{
    /// <summary>Checks a [B, T, *] sequence, its [B, T] mask and its B host lengths.</summary>
    /// <exception cref="ArgumentException">Something does not fit; the message names it and its value.</exception>
    /// <param name="sequence">[B, T, width].</param>
    /// <param name="mask">bool [B, T].</param>
    /// <param name="lengths">B host lengths, each in 0 .. T.</param>
    /// <param name="width">The width the module was built for.</param>
    /// <param name="sequenceName">The sequence's parameter name, for messages.</param>
    public static void Check(Tensor sequence, Tensor mask, int[] lengths, long width, string sequenceName)
    {
        ArgumentNullException.ThrowIfNull(sequence, sequenceName);
        ArgumentNullException.ThrowIfNull(mask);
        ArgumentNullException.ThrowIfNull(lengths);
        if (sequence.dim() != 3 || sequence.shape[2] != width)
        {
            throw new ArgumentException($"{sequenceName} has shape [{string.Join(", ", sequence.shape)}]: expected [B, T, {width}].", sequenceName);
        }

        long batch = sequence.shape[0], steps = sequence.shape[1];
        if (mask.dtype != ScalarType.Bool || mask.dim() != 2 || mask.shape[0] != batch || mask.shape[1] != steps)
        {
            throw new ArgumentException($"mask is {mask.dtype} [{string.Join(", ", mask.shape)}]: expected Bool [B, T] = [{batch}, {steps}].", nameof(mask));
        }

        if (lengths.Length != batch)
        {
            throw new ArgumentException($"lengths has {lengths.Length} entries: expected one per row, B = {batch}.", nameof(lengths));
        }

        for (int b = 0; b < lengths.Length; b++)
        {
            if (lengths[b] < 0 || lengths[b] > steps)
            {
                throw new ArgumentException($"lengths[{b}] = {lengths[b]}: must be in 0 .. T = {steps}.", nameof(lengths));
            }
        }
    }
}
