namespace Dien.Data.Converters;

/// <summary>
/// A log's rows grouped by user without a list per user: a counting sort of the row indices by user id, each
/// user's rows left in file order for the converter to order by time.
/// </summary>
/// <param name="Starts">User u's rows are <c>Order[Starts[u] .. Starts[u + 1]]</c> (u from 1; length: the user table's size + 1).</param>
/// <param name="Order">Row indices, by user.</param>
internal sealed record RowsByUser(int[] Starts, int[] Order)
{
    /// <summary>Groups <paramref name="rowCount"/> rows by <paramref name="userOf"/> (ids 1 .. <paramref name="userTableSize"/> - 1).</summary>
    public static RowsByUser Group(int rowCount, Func<int, int> userOf, int userTableSize)
    {
        var starts = new int[userTableSize + 1];
        for (int row = 0; row < rowCount; row++)
        {
            starts[userOf(row) + 1]++;
        }

        for (int user = 1; user <= userTableSize; user++)
        {
            starts[user] += starts[user - 1];
        }

        var order = new int[rowCount];
        var next = starts.ToArray();
        for (int row = 0; row < rowCount; row++)
        {
            order[next[userOf(row)]++] = row;
        }

        return new RowsByUser(starts, order);
    }

    /// <summary>Rows by <paramref name="time"/>, ties by <paramref name="tie"/>, then in file order (by row index).</summary>
    public static IComparer<int> ByTime(Func<int, long> time, Func<int, long> tie) => Comparer<int>.Create((a, b) =>
    {
        int order = time(a).CompareTo(time(b));
        order = order != 0 ? order : tie(a).CompareTo(tie(b));
        return order != 0 ? order : a.CompareTo(b);
    });

    /// <summary>User <paramref name="user"/>'s rows, sorted by <paramref name="comparer"/>.</summary>
    public ReadOnlySpan<int> Sorted(int user, IComparer<int> comparer)
    {
        int count = Starts[user + 1] - Starts[user];
        Array.Sort(Order, Starts[user], count, comparer);
        return Order.AsSpan(Starts[user], count);
    }
}
