using System.Globalization;

namespace Dien.Data.Events;

/// <summary>
/// Gives each distinct key of one kind (users, items, ...) a provisional id as rows stream by, and counts it, so
/// that a log is held as ids, not text. A number and its decimal text are one key (a Parquet column of longs and
/// the same column in CSV give the same vocabulary). <see cref="Finish"/> turns the counts into the vocabulary.
/// </summary>
/// <remarks>
/// A key is held as a number exactly when its text is a non-negative number's own decimal form of at most 18 digits
/// ("1069838", not "01", "+1" or "-1"), whichever way it came: logs' ids mostly are, and a number hashes faster and
/// needs no string until <see cref="Finish"/>. Every other key, a number outside that range included, is held as
/// its text, so no key is held both ways.
/// </remarks>
internal sealed class KeyInterner
{
    // The longest text held as a number: 18 digits always fit in a long.
    private const int MaxNumberDigits = 18;
    private const long MaxNumber = 999_999_999_999_999_999;

    private readonly Dictionary<string, int> _texts = new(StringComparer.Ordinal);
#if NET9_0_OR_GREATER
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _textSpans;
#endif
    private readonly Dictionary<long, int> _numbers = [];
    private readonly List<long> _counts = [];
    private readonly List<string?> _textOf = [];
    private readonly List<long> _numberOf = [];

    /// <summary>An empty interner.</summary>
    public KeyInterner()
    {
#if NET9_0_OR_GREATER
        _textSpans = _texts.GetAlternateLookup<ReadOnlySpan<char>>();
#endif
    }

    /// <summary>Distinct keys so far.</summary>
    public int Count => _counts.Count;

    /// <summary>The provisional id of <paramref name="key"/>, counting one occurrence.</summary>
    public int Of(string key) => Of(key.AsSpan());

    /// <summary>The provisional id of the characters <paramref name="key"/>, counting one occurrence; a string is made only for a new key that is not a number.</summary>
    public int Of(ReadOnlySpan<char> key)
    {
        if (IsNumberText(key, out long number))
        {
            return Of(number);
        }

#if NET9_0_OR_GREATER
        if (!_textSpans.TryGetValue(key, out int id))
#else
        if (!_texts.TryGetValue(key.ToString(), out int id))
#endif
        {
            string text = key.ToString();
            id = New(text, 0);
            _texts[text] = id;
        }

        _counts[id]++;
        return id;
    }

    /// <summary>The provisional id of the integer <paramref name="key"/>, counting one occurrence.</summary>
    public int Of(long key)
    {
        if (key < 0 || key > MaxNumber)
        {
            return Of(key.ToString(CultureInfo.InvariantCulture).AsSpan());
        }

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
        int n = _counts.Count;
        var keys = new string[n];
        for (int id = 0; id < n; id++)
        {
            keys[id] = _textOf[id] ?? _numberOf[id].ToString(CultureInfo.InvariantCulture);
        }

        var vocabulary = Vocabulary.Ranked(keys, [.. _counts], out int[] finalIds);
        return (vocabulary, finalIds);
    }

    /// <summary>Whether <paramref name="text"/> is the decimal form a non-negative number of at most 18 digits prints as.</summary>
    internal static bool IsNumberText(ReadOnlySpan<char> text, out long number)
    {
        number = 0;
        if (text.IsEmpty || text.Length > MaxNumberDigits || (text[0] == '0' && text.Length > 1))
        {
            return false;
        }

        foreach (char c in text)
        {
            uint digit = (uint)(c - '0');
            if (digit > 9)
            {
                return false;
            }

            number = (number * 10) + digit;
        }

        return true;
    }

    private int New(string? text, long number)
    {
        _counts.Add(0);
        _textOf.Add(text);
        _numberOf.Add(number);
        return _counts.Count - 1;
    }
}
