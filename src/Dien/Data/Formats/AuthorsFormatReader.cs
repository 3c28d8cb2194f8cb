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

    /// <summary>The summary of the last complete enumeration of <see cref="Read"/>; null before.</summary>
    public ReadSummary? Summary { get; private set; }

    /// <summary>Streams the samples; each enumeration re-reads the file.</summary>
    /// <exception cref="DataFormatException">A malformed line, unless <see cref="ReadOptions.SkipBadLines"/>.</exception>
    public IEnumerable<Sample> Read()
    {
        long lines = 0, samples = 0, skipped = 0, dropped = 0;
        string? firstProblem = null;
        using (var reader = new StreamReader(_path))
        {
            string? line;
            while ((line = reader.ReadLine()) is not null)
            {
                lines++;
                if (line.Length == 0)
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

    private Sample? Parse(string line, out string? problem)
    {
        var fields = SplitFields(line, out problem);
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

    /// <summary>Counts uid, item (targets and histories) and category strings, for rebuilding vocabularies.</summary>
    internal static Dictionary<string, long>[] CountStrings(string path, ReadOptions options)
    {
        var counts = new[] { new Dictionary<string, long>(StringComparer.Ordinal), new Dictionary<string, long>(StringComparer.Ordinal), new Dictionary<string, long>(StringComparer.Ordinal) };
        void Add(int table, string s) => counts[table][s] = counts[table].GetValueOrDefault(s) + 1;
        long lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            var fields = SplitFields(line, out string? problem);
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

            Add(0, fields[1]);
            Add(1, fields[2]);
            Add(2, fields[3]);
            foreach (string item in items)
            {
                Add(1, item);
            }

            foreach (string cat in cats)
            {
                Add(2, cat);
            }
        }

        return counts;
    }

    private static string[]? SplitFields(string line, out string? problem)
    {
        string[] fields = line.TrimEnd('\r').Split('\t');
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
