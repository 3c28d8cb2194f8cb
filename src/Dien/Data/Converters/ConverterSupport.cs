using System.Text;

namespace Dien.Data.Converters;

/// <summary>Pieces the converters share: the user split, negative targets, CSV fields.</summary>
internal static class ConverterSupport
{
    /// <summary>Deterministic user split: users ordered by id, shuffled with the seed, the first fraction is test.</summary>
    public static HashSet<long> TestUsers(IEnumerable<long> users, double fraction, int seed)
    {
        var ordered = users.Distinct().Order().ToArray();
        new Random(seed).Shuffle(ordered);
        int test = (int)Math.Round(ordered.Length * fraction);
        return ordered.Take(test).ToHashSet();
    }

    /// <summary>A uniformly drawn item id in 1 .. itemCount - 1 that the user never had.</summary>
    public static long NegativeTarget(HashSet<long> seen, int itemCount, Random random)
    {
        if (seen.Count >= itemCount - 1)
        {
            return 0;
        }

        while (true)
        {
            long item = 1 + random.Next(itemCount - 1);
            if (!seen.Contains(item))
            {
                return item;
            }
        }
    }

    /// <summary>Splits one CSV line (RFC 4180 quoting: "a, b" and doubled quotes); null when a quote is left open.</summary>
    /// <param name="line">The line.</param>
    /// <param name="delimiter">The field separator: ',' for CSV, '\t' for TSV.</param>
    public static List<string>? SplitCsv(string line, char delimiter = ',')
    {
        var fields = new List<string>();
        var sb = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"')
                {
                    if (i + 1 < line.Length && line[i + 1] == '"')
                    {
                        sb.Append('"');
                        i++;
                    }
                    else
                    {
                        quoted = false;
                    }
                }
                else
                {
                    sb.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == delimiter)
            {
                fields.Add(sb.ToString());
                sb.Clear();
            }
            else
            {
                sb.Append(c);
            }
        }

        if (quoted)
        {
            return null;
        }

        fields.Add(sb.ToString().TrimEnd('\r'));
        return fields;
    }

    /// <summary>
    /// Splits a CSV line into <paramref name="fields"/>, ranges of <paramref name="text"/>: the line itself, or for a
    /// line with a quote (RFC 4180, as <see cref="SplitCsv"/>) its unquoted fields end to end in one new string.
    /// </summary>
    /// <returns>The line's field count, or -1 when a quoted field is not closed; the ranges are set only when it is the length of <paramref name="fields"/>.</returns>
    public static int SplitFields(ReadOnlySpan<char> line, char delimiter, Range[] fields, out ReadOnlySpan<char> text)
    {
        text = line;
        if (!line.Contains('"'))
        {
            int count = line.Count(delimiter) + 1;
            if (count == fields.Length)
            {
                line.Split(fields, delimiter);
            }

            return count;
        }

        var quoted = SplitCsv(line.ToString(), delimiter);
        if (quoted is null)
        {
            return -1;
        }

        if (quoted.Count == fields.Length)
        {
            text = string.Concat(quoted);
            for (int f = 0, start = 0; f < quoted.Count; start += quoted[f++].Length)
            {
                fields[f] = new Range(start, start + quoted[f].Length);
            }
        }

        return quoted.Count;
    }

    /// <summary>Collects bad lines, over one file or several read in turn: throws unless skipping, counts otherwise.</summary>
    public sealed class BadLines(ReadOptions options)
    {
        /// <summary>Creates the collector for one file.</summary>
        public BadLines(string path, ReadOptions options)
            : this(options)
        {
            Path = path;
        }

        /// <summary>The file being read, named in exceptions and in the first problem.</summary>
        public string Path { get; set; } = string.Empty;

        public long Skipped { get; private set; }

        public string? First { get; private set; }

        public void Report(long lineNumber, string problem) => Report($"line {lineNumber}", lineNumber, problem);

        /// <summary>As <see cref="Report(long, string)"/>, for a place that is not a text line (a Parquet row).</summary>
        public void Report(string place, long lineNumber, string problem)
        {
            if (!options.SkipBadLines)
            {
                throw new DataFormatException(Path, place, lineNumber, problem);
            }

            Skipped++;
            First ??= $"{System.IO.Path.GetFileName(Path)} {place}: {problem}";
        }
    }
}
