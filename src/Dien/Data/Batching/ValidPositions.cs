namespace Dien.Data.Batching;

/// <summary>
/// Where a batch's valid history positions sit, packed row after row (row b's first lengths[b] positions, then row
/// b + 1's), as packed sequences hold them.
/// </summary>
internal static class ValidPositions
{
    /// <summary>The flat positions b * width + t of the valid positions, row after row.</summary>
    /// <param name="lengths">Valid lengths per row, each at most <paramref name="width"/>.</param>
    /// <param name="width">The padded width.</param>
    public static long[] Positions(int[] lengths, long width)
    {
        var positions = new long[Count(lengths)];
        long k = 0;
        for (int b = 0; b < lengths.Length; b++)
        {
            for (int t = 0; t < lengths[b]; t++)
            {
                positions[k++] = (b * width) + t;
            }
        }

        return positions;
    }

    /// <summary>The row b of each valid position, row after row (<see cref="Positions"/> order).</summary>
    /// <param name="lengths">Valid lengths per row.</param>
    public static long[] Rows(int[] lengths)
    {
        var rows = new long[Count(lengths)];
        long k = 0;
        for (int b = 0; b < lengths.Length; b++)
        {
            Array.Fill(rows, b, (int)k, lengths[b]);
            k += lengths[b];
        }

        return rows;
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
