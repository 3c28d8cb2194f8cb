using Dien.Data.Converters;

namespace Dien.Data.Events;

/// <summary>
/// Streams one CSV (comma) or TSV (tab, for <c>.tsv</c> and <c>.tab</c>) file, with a header line naming its
/// columns or (<see cref="EventColumns.HasHeader"/> false) without, into an <see cref="EventTable"/>, one line at a
/// time. Quoting follows RFC 4180 within a line.
/// </summary>
internal static class CsvEventSource
{
    /// <summary>The field separator for a file name.</summary>
    public static char DelimiterOf(string path) =>
        Path.GetExtension(path).ToLowerInvariant() is ".tsv" or ".tab" ? '\t' : ',';

    /// <summary>Adds the file's rows to <paramref name="table"/>.</summary>
    /// <exception cref="DataFormatException">No header, a mapped column missing from it (never skipped), or a bad line unless skipped.</exception>
    /// <remarks>
    /// Lines are read into one reused buffer and split into ranges, so a line makes no string: only a new key that is
    /// not a number, a line with a quote (unquoted into one string) and a bad line's message do.
    /// </remarks>
    public static void Read(string path, EventTable table, ConverterSupport.BadLines bad)
    {
        var columns = table.Columns;
        char delimiter = DelimiterOf(path);
        long lineNumber = 0;
        int[]? at = null;
        string[] names = [columns.User, columns.Item, columns.Time, columns.Category ?? string.Empty, columns.Behaviour ?? string.Empty, columns.Label ?? string.Empty];
        Range[] fields = [];
        using (var reader = new LineReader(path))
        {
            while (reader.TryReadLine(out var line))
            {
                lineNumber++;
                if (line.IsEmpty)
                {
                    continue;
                }

                if (at is null)
                {
                    var first = ConverterSupport.SplitCsv(line.ToString(), delimiter);
                    if (columns.HasHeader)
                    {
                        at = first is null
                            ? throw new DataFormatException(path, lineNumber, "the header line has a quoted field that is not closed")
                            : names.Select(name => name.Length == 0 ? -1 : Find(first, name, path, lineNumber)).ToArray();
                        fields = new Range[first.Count];
                        continue;
                    }

                    // Positions, checked against the first line's width; the line is a row too.
                    int width = first?.Count ?? throw new DataFormatException(path, lineNumber, "a quoted field is not closed (the first line sets the field count)");
                    at = names.Select(name => name.Length == 0 ? -1 : int.Parse(name, System.Globalization.CultureInfo.InvariantCulture) - 1).ToArray();
                    if (at.Max() >= width)
                    {
                        throw new DataFormatException(path, lineNumber, $"column {at.Max() + 1} is mapped but the first line has {width} fields (the file has no header, so columns are positions)");
                    }

                    fields = new Range[width];
                }

                int count = ConverterSupport.SplitFields(line, delimiter, fields, out var text);
                if (count < 0)
                {
                    bad.Report(lineNumber, "a quoted field is not closed");
                    continue;
                }

                if (count != fields.Length)
                {
                    bad.Report(lineNumber, $"expected {fields.Length} fields, as the {(columns.HasHeader ? "header" : "first line")}, but found {count}");
                    continue;
                }

                string? problem = Add(table, text, fields, at, names);
                if (problem is not null)
                {
                    bad.Report(lineNumber, problem);
                }
            }
        }

        table.Lines += lineNumber;
        if (at is null && columns.HasHeader)
        {
            throw new DataFormatException(path, Math.Max(lineNumber, 1), "the file is empty: an event log needs a header line naming its columns");
        }
    }

    /// <summary>Adds one row, whose fields are ranges of <paramref name="line"/>, or returns why it is bad (naming the column and the value).</summary>
    private static string? Add(EventTable table, ReadOnlySpan<char> line, Range[] fields, int[] at, string[] names)
    {
        ReadOnlySpan<char> user = line[fields[at[0]]], item = line[fields[at[1]]], time = line[fields[at[2]]];
        if (user.IsEmpty)
        {
            return $"column {Quote.Of(names[0])} (user) is empty: a null id";
        }

        if (item.IsEmpty)
        {
            return $"column {Quote.Of(names[1])} (item) is empty: a null id";
        }

        if (EventValues.Time(time.Trim(), table.Columns.TimeUnit) is not long ms)
        {
            return $"column {Quote.Of(names[2])} (time) value {Quote.Of(time.ToString())} is {EventValues.TimeRule(table.Columns.TimeUnit)}";
        }

        var role = EventTable.Role.Target | EventTable.Role.History;
        if (at[4] >= 0)
        {
            role = table.RoleOf(line[fields[at[4]]]);
        }

        if (at[5] >= 0)
        {
            var label = line[fields[at[5]]];
            if (EventValues.Label(label) is not bool clicked)
            {
                return $"column {Quote.Of(names[5])} (label) value {Quote.Of(label.ToString())} is {EventValues.LabelRule}";
            }

            role = clicked ? role | EventTable.Role.Clicked : role & ~EventTable.Role.History;
        }

        if (!EventTable.IsUsed(role))
        {
            table.CountUnused();
            return null;
        }

        int category = at[3] >= 0 && !line[fields[at[3]]].IsEmpty ? table.Categories.Of(line[fields[at[3]]]) : -1;
        table.Add(table.Users.Of(user), table.Items.Of(item), category, ms, role);
        return null;
    }

    private static int Find(List<string> header, string name, string path, long line)
    {
        int at = header.IndexOf(name);
        if (at < 0)
        {
            var folded = header.Select((h, i) => (h, i)).Where(p => p.h.Trim().Equals(name, StringComparison.OrdinalIgnoreCase)).ToList();
            at = folded.Count == 1 ? folded[0].i : -1;
        }

        return at >= 0
            ? at
            : throw new DataFormatException(path, line, $"no column {Quote.Of(name)} in the header (it has {string.Join(", ", header.Select(h => Quote.Of(h)))})");
    }
}
