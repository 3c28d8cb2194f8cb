using System.Globalization;

namespace Dien.Data.Formats;

/// <summary>
/// Streams the authors' <c>local_train_splitByUser</c> / <c>local_test_splitByUser</c> files line by
/// line (nothing but the current line is held): <c>label \t uid \t mid \t cat \t mid_history \t cat_history</c>,
/// histories joined by the byte 0x02, oldest first.
/// </summary>
/// <remarks>
/// Strings map to ids through <see cref="AuthorsVocabularies"/>; unknown (non-empty) strings map to 0. An empty
/// history field is an empty history. A line is malformed when it has other than 6 fields, a label
/// other than 0/1, an empty uid, mid or cat, an empty history entry (a leading, trailing or doubled 0x02),
/// or item and category histories of different lengths.
/// </remarks>
public sealed class AuthorsFormatReader
{
    /// <summary>The separator of history entries, the byte 0x02.</summary>
    public const char HistorySeparator = '\u0002';

    private static readonly string[] FieldNames = ["label", "uid", "mid", "cat", "mid_history", "cat_history"];

    private readonly string _path;
    private readonly AuthorsVocabularies _vocabularies;
    private readonly ReadOptions _options;

    /// <summary>Creates a reader of <paramref name="path"/>.</summary>
    /// <param name="path">An authors'-format file.</param>
    /// <param name="vocabularies">The id tables.</param>
    /// <param name="options">Bad lines and empty histories; defaults: throw, keep.</param>
    public AuthorsFormatReader(string path, AuthorsVocabularies vocabularies, ReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(vocabularies);
        _path = path;
        _vocabularies = vocabularies;
        _options = options ?? new ReadOptions();
    }

    /// <summary>
    /// Whether plainly well-formed lines are read from their characters (the default) rather than split into strings as
    /// other lines are; both give the same samples and counts (internal, for tests and measurements).
    /// </summary>
    internal static bool ReadsPlainLinesDirectly { get; set; } = true;

    /// <summary>The summary of the last complete enumeration of <see cref="Read"/>; null before.</summary>
    public ReadSummary? Summary { get; private set; }

    /// <summary>Streams the samples; each enumeration re-reads the file.</summary>
    /// <exception cref="DataFormatException">A malformed line, unless <see cref="ReadOptions.SkipBadLines"/>.</exception>
    public IEnumerable<Sample> Read()
    {
        long lines = 0, samples = 0, skipped = 0, dropped = 0;
        string? firstProblem = null;
        using (var reader = new LineReader(_path))
        {
            while (reader.TryReadLine(out var line))
            {
                lines++;
                if (line.IsEmpty)
                {
                    continue;
                }

                var sample = Parse(line, out string? problem);
                if (sample is null)
                {
                    if (!_options.SkipBadLines)
                    {
                        throw new DataFormatException(_path, lines, problem!);
                    }

                    skipped++;
                    firstProblem ??= $"line {lines}: {problem}";
                    continue;
                }

                if (sample.HistoryLength == 0 && !_options.KeepEmptyHistories)
                {
                    dropped++;
                    continue;
                }

                samples++;
                yield return sample;
            }
        }

        Summary = new ReadSummary
        {
            Source = _path, Lines = lines, Samples = samples, SkippedLines = skipped, FirstProblem = firstProblem, DroppedEmptyHistories = dropped,
        };
        _options.Completed?.Report(Summary);
    }

    private Sample? Parse(ReadOnlySpan<char> line, out string? problem)
    {
        // The common line in one pass over its characters, with no string per line, field or entry; a line that is not
        // plainly well formed goes the general way below, which also words its problem.
        if (ReadsPlainLinesDirectly && TryParsePlain(line) is { } plain)
        {
            problem = null;
            return plain;
        }

        var fields = SplitFields(line.ToString(), out problem);
        if (fields is null)
        {
            return null;
        }

        if (!TryParseLabel(fields[0], out float label))
        {
            problem = $"label {Quote.Of(fields[0])} is not 0 or 1";
            return null;
        }

        string[]? items = SplitHistory(fields, 4, out problem);
        string[]? cats = items is null ? null : SplitHistory(fields, 5, out problem);
        if (items is null || cats is null)
        {
            return null;
        }

        if (items.Length != cats.Length)
        {
            problem = $"the item history has {items.Length} entries but the category history has {cats.Length}";
            return null;
        }

        var itemIds = new long[items.Length];
        var catIds = new long[cats.Length];
        for (int i = 0; i < items.Length; i++)
        {
            itemIds[i] = _vocabularies.Items.IdOf(items[i]);
            catIds[i] = _vocabularies.Categories.IdOf(cats[i]);
        }

        return new Sample
        {
            Label = label,
            User = _vocabularies.Users.IdOf(fields[1]),
            Group = GroupKey.Of(fields[1]),
            TargetItem = _vocabularies.Items.IdOf(fields[2]),
            TargetCategory = _vocabularies.Categories.IdOf(fields[3]),
            HistoryItems = itemIds,
            HistoryCategories = catIds,
        };
    }

    /// <summary>
    /// The sample of a plainly well-formed line, as <see cref="Parse"/>'s general way would read it, or null for anything
    /// else (a field count other than 6, a label other than the characters 0 or 1, an empty uid, mid or cat, an empty
    /// history entry, histories of different lengths), which the general way then reads or reports.
    /// </summary>
    private Sample? TryParsePlain(ReadOnlySpan<char> line)
    {
        if (!TrySplitPlain(line, out var fields, out int historyLength))
        {
            return null;
        }

        var text = fields.Text;
        var itemIds = new long[historyLength];
        var catIds = new long[historyLength];
        FillIds(text[fields.Items], _vocabularies.Items, itemIds);
        FillIds(text[fields.Categories], _vocabularies.Categories, catIds);
        return new Sample
        {
            Label = text[fields.Label][0] == '1' ? 1f : 0f,
            User = _vocabularies.Users.IdOf(text[fields.User]),
            Group = GroupKey.Of(text[fields.User]),
            TargetItem = _vocabularies.Items.IdOf(text[fields.Item]),
            TargetCategory = _vocabularies.Categories.IdOf(text[fields.Category]),
            HistoryItems = itemIds,
            HistoryCategories = catIds,
        };
    }

    /// <summary>The ids of a history field's entries (0x02-separated, none empty) in <paramref name="ids"/>.</summary>
    private static void FillIds(ReadOnlySpan<char> history, Vocabulary vocabulary, long[] ids)
    {
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = vocabulary.IdOf(NextEntry(ref history));
        }
    }

    /// <summary>The first entry of a history field's characters (0x02-separated); <paramref name="history"/> moves past it.</summary>
    private static ReadOnlySpan<char> NextEntry(ref ReadOnlySpan<char> history)
    {
        int end = history.IndexOf(HistorySeparator);
        var entry = end < 0 ? history : history[..end];
        history = end < 0 ? default : history[(end + 1)..];
        return entry;
    }

    /// <summary>Where a plain line's six fields lie (see <see cref="TrySplitPlain"/>).</summary>
    private readonly ref struct PlainFields
    {
        public ReadOnlySpan<char> Text { get; init; }

        public Range Label { get; init; }

        public Range User { get; init; }

        public Range Item { get; init; }

        public Range Category { get; init; }

        public Range Items { get; init; }

        public Range Categories { get; init; }
    }

    /// <summary>
    /// Splits a line that is plainly well formed (see <see cref="TryParsePlain"/>) into its fields, with its history
    /// length; false for any other line.
    /// </summary>
    private static bool TrySplitPlain(ReadOnlySpan<char> text, out PlainFields fields, out int historyLength)
    {
        fields = default;
        historyLength = 0;
        Span<Range> ranges = stackalloc Range[7];
        if (text.Split(ranges, '\t') != 6)
        {
            return false;
        }

        var label = text[ranges[0]];
        if (label.Length != 1 || (label[0] != '0' && label[0] != '1')
            || text[ranges[1]].IsEmpty || text[ranges[2]].IsEmpty || text[ranges[3]].IsEmpty)
        {
            return false;
        }

        int items = PlainHistoryLength(text[ranges[4]]), categories = PlainHistoryLength(text[ranges[5]]);
        if (items < 0 || items != categories)
        {
            return false;
        }

        historyLength = items;
        fields = new PlainFields
        {
            Text = text, Label = ranges[0], User = ranges[1], Item = ranges[2], Category = ranges[3], Items = ranges[4], Categories = ranges[5],
        };
        return true;
    }

    /// <summary>The entries of a history field (0 when it is empty), or -1 when an entry is empty.</summary>
    private static int PlainHistoryLength(ReadOnlySpan<char> history)
    {
        if (history.IsEmpty)
        {
            return 0;
        }

        if (history[0] == HistorySeparator || history[^1] == HistorySeparator || history.IndexOf([HistorySeparator, HistorySeparator]) >= 0)
        {
            return -1;
        }

        return history.Count(HistorySeparator) + 1;
    }

    /// <summary>Counts uid, item (targets and histories) and category strings, for rebuilding vocabularies.</summary>
    internal static Dictionary<string, long>[] CountStrings(string path, ReadOptions options)
    {
        var counts = new[] { new Dictionary<string, long>(StringComparer.Ordinal), new Dictionary<string, long>(StringComparer.Ordinal), new Dictionary<string, long>(StringComparer.Ordinal) };
        var tallies = counts.Select(c => new Tally(c)).ToArray();
        long lineNumber = 0;
        using var reader = new LineReader(path);
        while (reader.TryReadLine(out var characters))
        {
            lineNumber++;
            if (characters.IsEmpty)
            {
                continue;
            }

            // A plainly well-formed line is counted from its characters (a string is made only for a new entry).
            if (ReadsPlainLinesDirectly && TrySplitPlain(characters, out var plain, out _))
            {
                var text = plain.Text;
                tallies[0].Add(text[plain.User]);
                tallies[1].Add(text[plain.Item]);
                tallies[2].Add(text[plain.Category]);
                tallies[1].AddEntries(text[plain.Items]);
                tallies[2].AddEntries(text[plain.Categories]);
                continue;
            }

            var fields = SplitFields(characters.ToString(), out string? problem);
            if (fields is null)
            {
                if (options.SkipBadLines)
                {
                    continue;
                }

                throw new DataFormatException(path, lineNumber, problem!);
            }

            string[]? items = SplitHistory(fields, 4, out problem);
            string[]? cats = items is null ? null : SplitHistory(fields, 5, out problem);
            if (items is null || cats is null)
            {
                if (options.SkipBadLines)
                {
                    continue;
                }

                throw new DataFormatException(path, lineNumber, problem!);
            }

            tallies[0].Add(fields[1]);
            tallies[1].Add(fields[2]);
            tallies[2].Add(fields[3]);
            foreach (string item in items)
            {
                tallies[1].Add(item);
            }

            foreach (string cat in cats)
            {
                tallies[2].Add(cat);
            }
        }

        return counts;
    }

    /// <summary>Occurrence counts of strings, added from characters.</summary>
    private readonly struct Tally
    {
#if NET9_0_OR_GREATER
        private readonly Dictionary<string, long>.AlternateLookup<ReadOnlySpan<char>> _counts;

        public Tally(Dictionary<string, long> counts) => _counts = counts.GetAlternateLookup<ReadOnlySpan<char>>();

        /// <summary>One more occurrence of <paramref name="value"/>.</summary>
        public void Add(ReadOnlySpan<char> value) => System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_counts, value, out _)++;
#else
        private readonly Dictionary<string, long> _counts;

        public Tally(Dictionary<string, long> counts) => _counts = counts;

        /// <summary>One more occurrence of <paramref name="value"/>.</summary>
        public void Add(ReadOnlySpan<char> value)
        {
            string key = value.ToString();
            _counts[key] = _counts.GetValueOrDefault(key) + 1;
        }
#endif

        /// <summary>One more occurrence of each entry of a history field (0x02-separated, none empty; empty: none).</summary>
        public void AddEntries(ReadOnlySpan<char> history)
        {
            while (!history.IsEmpty)
            {
                Add(NextEntry(ref history));
            }
        }
    }

    private static string[]? SplitFields(string line, out string? problem)
    {
        string[] fields = line.Split('\t');
        if (fields.Length != 6)
        {
            problem = $"expected 6 tab-separated fields (label, uid, mid, cat, mid_history, cat_history) but found {fields.Length}";
            return null;
        }

        for (int i = 1; i <= 3; i++)
        {
            if (fields[i].Length == 0)
            {
                problem = $"field {i + 1} ({FieldNames[i]}) is empty";
                return null;
            }
        }

        problem = null;
        return fields;
    }

    private static bool TryParseLabel(string text, out float label)
    {
        bool ok = double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && (value == 0 || value == 1);
        label = ok ? (float)value : 0f;
        return ok;
    }

    /// <summary>The entries of history field <paramref name="index"/>; null (with the problem) when an entry is empty.</summary>
    private static string[]? SplitHistory(string[] fields, int index, out string? problem)
    {
        problem = null;
        string field = fields[index];
        if (field.Length == 0)
        {
            return [];
        }

        string[] entries = field.Split(HistorySeparator);
        int empty = Array.FindIndex(entries, e => e.Length == 0);
        if (empty >= 0)
        {
            problem = $"field {index + 1} ({FieldNames[index]}) has an empty entry at position {empty + 1} of {entries.Length} (a leading, trailing or doubled 0x02)";
            return null;
        }

        return entries;
    }
}
