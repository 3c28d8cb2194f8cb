namespace Dien.Data.Batching;

/// <summary>
/// One history column of a <see cref="BatchArrays"/> (items, categories, negatives, their categories, or labels):
/// packed, the valid positions row after row, as a <see cref="Batcher"/> builds it; or padded [B * T], as a caller
/// gives it or first reads it. Once the padded array exists it is the column's content.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
internal sealed class HistoryColumn<T>
{
    private readonly T[]? _packed;
    private T[]? _padded;

    private HistoryColumn(T[]? padded, T[]? packed)
    {
        _padded = padded;
        _packed = packed;
    }

    /// <summary>A column without values (an optional column not given).</summary>
    public static HistoryColumn<T> None { get; } = new(null, null);

    /// <summary>A column given padded, [B * T] row-major (null: no values).</summary>
    /// <param name="padded">The padded values.</param>
    public static HistoryColumn<T> OfPadded(T[]? padded) => padded is null ? None : new(padded, null);

    /// <summary>A column given packed, [sum of lengths] (null: no values).</summary>
    /// <param name="packed">The values at the valid positions, row after row.</param>
    public static HistoryColumn<T> OfPacked(T[]? packed) => packed is null ? None : new(null, packed);

    /// <summary>Whether the column holds values.</summary>
    public bool HasValues => (_padded ?? _packed) is not null;

    /// <summary>
    /// The padded [B * T] array: the one given, or laid out from the packed values on the first read. The first of
    /// racing readers wins and every reader gets its array.
    /// </summary>
    /// <param name="lengths">The rows' valid lengths.</param>
    /// <param name="width">The padded width T.</param>
    public T[]? Padded(int[] lengths, int width)
    {
        if (_padded is not null || _packed is null)
        {
            return _padded;
        }

        var padded = new T[(long)lengths.Length * width];
        CopyRows(_packed, padded, lengths, width, toPadded: true);
        return Interlocked.CompareExchange(ref _padded, padded, null) ?? padded;
    }

    /// <summary>The values at the valid positions, row after row: the packed array itself, or gathered from the padded one.</summary>
    /// <param name="lengths">The rows' valid lengths.</param>
    /// <param name="width">The padded width T.</param>
    public T[]? Valid(int[] lengths, int width)
    {
        var padded = _padded;
        if (padded is null)
        {
            return _packed;
        }

        var values = new T[ValidPositions.Count(lengths)];
        CopyRows(padded, values, lengths, width, toPadded: false);
        return values;
    }

    /// <summary>The value at one valid position, read from whichever form the column holds.</summary>
    /// <param name="padded">The position's index in the padded layout, b * T + t.</param>
    /// <param name="packed">Its index in the packed layout.</param>
    public T At(int padded, int packed) => _padded is { } values ? values[padded] : _packed![packed];

    /// <summary>Throws when the column's array is not as long as its form needs; no values pass.</summary>
    /// <param name="field">The column's name, for the message.</param>
    /// <param name="cells">B * T, the padded form's length.</param>
    /// <param name="valid">The sum of the lengths, the packed form's length.</param>
    /// <exception cref="ArgumentException">The length differs; the message names the field and both counts.</exception>
    public void RequireLength(string field, long cells, long valid)
    {
        if (_padded is { } padded)
        {
            BatchArrays.RequireLength(field, padded, cells);
        }
        else if (_packed is { } packed)
        {
            BatchArrays.RequireLength(field, packed, valid);
        }
    }

    /// <summary>Copies each row's valid values between the packed layout and the padded one.</summary>
    private static void CopyRows(T[] source, T[] target, int[] lengths, int width, bool toPadded)
    {
        int offset = 0;
        for (int b = 0; b < lengths.Length; b++)
        {
            if (toPadded)
            {
                Array.Copy(source, offset, target, b * width, lengths[b]);
            }
            else
            {
                Array.Copy(source, b * width, target, offset, lengths[b]);
            }

            offset += lengths[b];
        }
    }
}
