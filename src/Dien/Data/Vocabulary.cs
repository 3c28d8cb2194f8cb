namespace Dien.Data;

/// <summary>
/// A string -> id map. Id 0 is padding and out-of-vocabulary: <see cref="IdOf(string)"/> returns 0 for any
/// string it does not know. Vocabularies built here give ids 1.. to known strings.
/// </summary>
/// <remarks>
/// A map read from the authors' pickles is kept as written: their <c>uid_voc</c> gives id 0 to a real
/// user, so in that table an unknown user shares id 0 with that user (as in the authors' own code).
/// </remarks>
public sealed class Vocabulary
{
    private readonly Dictionary<string, int> _ids;
#if NET9_0_OR_GREATER
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _spanIds;
#endif

    /// <summary>Wraps an existing map (ids must not be negative, nor <see cref="int.MaxValue"/>, whose table size would overflow).</summary>
    /// <param name="ids">string -> id.</param>
    /// <exception cref="ArgumentException">An id is negative or <see cref="int.MaxValue"/>.</exception>
    public Vocabulary(IReadOnlyDictionary<string, int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        _ids = new Dictionary<string, int>(ids, StringComparer.Ordinal);
#if NET9_0_OR_GREATER
        _spanIds = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
#endif
        int max = 0;
        foreach (var (key, id) in _ids)
        {
            if (id < 0 || id == int.MaxValue)
            {
                throw new ArgumentException($"Vocabulary entry {Quote.Of(key)} = {id}: ids must be in 0 .. {int.MaxValue - 1}.", nameof(ids));
            }

            max = Math.Max(max, id);
        }

        Size = max + 1;
    }

    /// <summary>Takes <paramref name="ids"/> as it is: ids 1 .. size - 1, made here.</summary>
    private Vocabulary(Dictionary<string, int> ids, int size)
    {
        _ids = ids;
#if NET9_0_OR_GREATER
        _spanIds = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
#endif
        Size = size;
    }

    /// <summary>Table size: the largest id + 1 (at least 1, for id 0). Use it as the embedding table size.</summary>
    public int Size { get; }

    /// <summary>Number of known strings.</summary>
    public int Count => _ids.Count;

    /// <summary>The entries, string -> id.</summary>
    public IReadOnlyDictionary<string, int> Entries => _ids;

    /// <summary>The id of <paramref name="value"/>, or 0 when it is unknown.</summary>
    public int IdOf(string value) => _ids.TryGetValue(value, out int id) ? id : 0;

    /// <summary>The id of the characters <paramref name="value"/>, or 0 when unknown, without making a string of them (.NET 9 and later).</summary>
#if NET9_0_OR_GREATER
    internal int IdOf(ReadOnlySpan<char> value) => _spanIds.TryGetValue(value, out int id) ? id : 0;
#else
    internal int IdOf(ReadOnlySpan<char> value) => IdOf(value.ToString());
#endif

    /// <summary>Whether <paramref name="value"/> is known.</summary>
    public bool Contains(string value) => _ids.ContainsKey(value);

    /// <summary>
    /// Builds a vocabulary deterministically from occurrence counts: ids 1, 2, ... by descending
    /// frequency, ties broken by ordinal string order. Id 0 stays reserved.
    /// </summary>
    /// <param name="values">Every occurrence (a string may repeat).</param>
    public static Vocabulary FromFrequencies(IEnumerable<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string value in values)
        {
            counts[value] = counts.GetValueOrDefault(value) + 1;
        }

        return FromCounts(counts);
    }

    /// <summary>As <see cref="FromFrequencies"/>, from counts already made.</summary>
    /// <param name="counts">string -> number of occurrences.</param>
    public static Vocabulary FromCounts(IReadOnlyDictionary<string, long> counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        var keys = new string[counts.Count];
        var occurrences = new long[counts.Count];
        int at = 0;
        foreach (var (key, count) in counts)
        {
            keys[at] = key;
            occurrences[at++] = count;
        }

        return Ranked(keys, occurrences, out _);
    }

    /// <summary>
    /// The vocabulary of distinct <paramref name="keys"/> with their <paramref name="counts"/>: ids 1, 2, ... by
    /// descending count, ties by ordinal order; <paramref name="idOfKey"/>[i] is the id of keys[i].
    /// </summary>
    /// <remarks>
    /// The sort compares each key's first eight characters as two numbers and reads the strings only where those are
    /// equal: comparing the strings themselves, scattered over the heap, made ranking a log's millions of distinct
    /// items take seconds.
    /// </remarks>
    internal static Vocabulary Ranked(string[] keys, long[] counts, out int[] idOfKey)
    {
        int n = keys.Length;
        var entries = new RankEntry[n];
        for (int i = 0; i < n; i++)
        {
            entries[i] = new RankEntry(counts[i], Head(keys[i], 0), Head(keys[i], 4), i);
        }

        entries.AsSpan().Sort(new RankOrder(keys));
        var ids = new Dictionary<string, int>(n, StringComparer.Ordinal);
        idOfKey = new int[n];
        for (int i = 0; i < n; i++)
        {
            ids.Add(keys[entries[i].Index], i + 1);
            idOfKey[entries[i].Index] = i + 1;
        }

        return new Vocabulary(ids, size: n + 1);
    }

    /// <summary>Characters from..from + 3 of <paramref name="key"/> as one number in ordinal order (missing ones as 0).</summary>
    private static ulong Head(string key, int from)
    {
        ulong head = 0;
        for (int i = from; i < from + 4; i++)
        {
            head = (head << 16) | (i < key.Length ? key[i] : 0u);
        }

        return head;
    }

    /// <summary>A key to rank: its count, its first eight characters and its place in the keys.</summary>
    private readonly record struct RankEntry(long Count, ulong Head0, ulong Head1, int Index);

    /// <summary>Descending count, then ordinal order: the heads first, the strings only where they are equal.</summary>
    private readonly struct RankOrder(string[] keys) : IComparer<RankEntry>
    {
        public int Compare(RankEntry x, RankEntry y)
        {
            int order = y.Count.CompareTo(x.Count);
            if (order == 0)
            {
                order = x.Head0.CompareTo(y.Head0);
            }

            if (order == 0)
            {
                order = x.Head1.CompareTo(y.Head1);
            }

            return order != 0 ? order : string.CompareOrdinal(keys[x.Index], keys[y.Index]);
        }
    }
}
