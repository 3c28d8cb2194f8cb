using System.Globalization;

namespace Dien.Data.Events;

/// <summary>
/// Gives each distinct key of one kind (users, items, ...) a provisional id as rows stream by, and counts it, so
/// that a log is held as ids, not text. A number and its decimal text are one key (a Parquet column of longs and
/// the same column in CSV give the same vocabulary). <see cref="Finish"/> turns the counts into the vocabulary.
/// </summary>
internal sealed class KeyInterner
{
    private readonly Dictionary<string, int> _texts = new(StringComparer.Ordinal);
    private readonly Dictionary<long, int> _numbers = [];
    private readonly List<long> _counts = [];
    private readonly List<string?> _textOf = [];
    private readonly List<long> _numberOf = [];

    /// <summary>Distinct keys so far (a number and its text may still count twice until <see cref="Finish"/>).</summary>
    public int Count => _counts.Count;

    /// <summary>The provisional id of <paramref name="key"/>, counting one occurrence.</summary>
    public int Of(string key)
    {
        if (!_texts.TryGetValue(key, out int id))
        {
            id = New(key, 0);
            _texts[key] = id;
        }

        _counts[id]++;
        return id;
    }

    /// <summary>The provisional id of the integer <paramref name="key"/>, counting one occurrence.</summary>
    public int Of(long key)
    {
        if (!_numbers.TryGetValue(key, out int id))
        {
            id = New(null, key);
            _numbers[key] = id;
        }

        _counts[id]++;
        return id;
    }

    /// <summary>The vocabulary (ids by descending count, ties by ordinal text, from 1) and the final id of each provisional id.</summary>
    public (Vocabulary Vocabulary, int[] FinalIds) Finish()
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var keys = new string[_counts.Count];
        for (int id = 0; id < keys.Length; id++)
        {
            keys[id] = _textOf[id] ?? _numberOf[id].ToString(CultureInfo.InvariantCulture);
            counts[keys[id]] = counts.GetValueOrDefault(keys[id]) + _counts[id];
        }

        var vocabulary = Vocabulary.FromCounts(counts);
        return (vocabulary, keys.Select(vocabulary.IdOf).ToArray());
    }

    private int New(string? text, long number)
    {
        _counts.Add(0);
        _textOf.Add(text);
        _numberOf.Add(number);
        return _counts.Count - 1;
    }
}
