namespace Dien.Auxiliary;

/// <summary>
/// Flat indices (b * T + t) of the positions a loss may count, computed on the host from the lengths, so
/// a loss gathers exactly its valid rows instead of computing padded ones and masking them afterwards.
/// </summary>
internal static class ValidPositions
{
    /// <summary>Every valid position: t &lt; L_b.</summary>
    public static long[] All(int[] lengths, long width) => Collect(lengths, width, 0);

    /// <summary>Positions with a valid next behaviour: t &lt; L_b - 1 (the pairs (h_t, e_{t+1})).</summary>
    public static long[] WithNext(int[] lengths, long width) => Collect(lengths, width, 1);

    private static long[] Collect(int[] lengths, long width, int shortenBy)
    {
        long count = 0;
        foreach (int length in lengths)
        {
            count += Math.Max(0, length - shortenBy);
        }

        var indices = new long[count];
        long next = 0;
        for (int b = 0; b < lengths.Length; b++)
        {
            for (int t = 0; t < lengths[b] - shortenBy; t++)
            {
                indices[next++] = (b * width) + t;
            }
        }

        return indices;
    }
}
