namespace Dien.Data.Batching;

/// <summary>
/// Where a batch's valid history positions sit, packed row after row (row b's first lengths[b] positions, then row
/// b + 1's), as packed sequences hold them.
/// </summary>
internal static class ValidPositions
{
    /// <summary>The flat positions b * width + t and the rows b of the valid positions, row after row.</summary>
    /// <param name="lengths">Valid lengths per row, each at most <paramref name="width"/>.</param>
    /// <param name="width">The padded width.</param>
    public static (long[] Positions, long[] Rows) Of(int[] lengths, long width)
    {
        var positions = new long[Count(lengths)];
        var rows = new long[positions.Length];
        long k = 0;
        for (int b = 0; b < lengths.Length; b++)
        {
            for (int t = 0; t < lengths[b]; t++, k++)
            {
                positions[k] = (b * width) + t;
                rows[k] = b;
            }
        }

        return (positions, rows);
    }

    /// <summary>The number of valid positions: the sum of the lengths.</summary>
    /// <param name="lengths">Valid lengths per row.</param>
    public static long Count(int[] lengths)
    {
        long valid = 0;
        foreach (int length in lengths)
        {
            valid += length;
        }

        return valid;
    }
}
