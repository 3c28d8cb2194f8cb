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
    public static void Read(string path, EventTable table, ConverterSupport.BadLines bad)
    {
        var columns = table.Columns;
        char delimiter = DelimiterOf(path);
        long lineNumber = 0;
        int[]? at = null;
        string[] names = [];
        int width = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0 || (line.Length == 1 && line[0] == '\r'))
            {
                continue;
            }

            var fields = ConverterSupport.SplitCsv(line, delimiter);
            if (at is null && !columns.HasHeader)
            {
                // Positions, checked against the first line's width.
                names = [columns.User, columns.Item, columns.Time, columns.Category ?? string.Empty, columns.Behaviour ?? string.Empty, columns.Label ?? string.Empty];
                width = fields?.Count ?? throw new DataFormatException(path, lineNumber, "a quoted field is not closed (the first line sets the field count)");
                at = names.Select(name => name.Length == 0 ? -1 : int.Parse(name, System.Globalization.CultureInfo.InvariantCulture) - 1).ToArray();
                if (at.Max() >= width)
                {
                    throw new DataFormatException(path, lineNumber, $"column {at.Max() + 1} is mapped but the first line has {width} fields (the file has no header, so columns are positions)");
                }
            }
            else if (at is null)
            {
                if (fields is null)
                {
                    throw new DataFormatException(path, lineNumber, "the header line has a quoted field that is not closed");
                }

                width = fields.Count;
                names = [columns.User, columns.Item, columns.Time, columns.Category ?? string.Empty, columns.Behaviour ?? string.Empty, columns.Label ?? string.Empty];
                at = names.Select(name => name.Length == 0 ? -1 : Find(fields, name, path, lineNumber)).ToArray();
                continue;
            }

            if (fields is null || fields.Count != width)
            {
                bad.Report(lineNumber, fields is null ? "a quoted field is not closed" : $"expected {width} fields, as the {(columns.HasHeader ? "header" : "first line")}, but found {fields.Count}");
                continue;
            }

            string? problem = Add(table, fields, at, names);
            if (problem is not null)
            {
                bad.Report(lineNumber, problem);
            }
        }

        table.Lines += lineNumber;
        if (at is null && columns.HasHeader)
        {
            throw new DataFormatException(path, Math.Max(lineNumber, 1), "the file is empty: an event log needs a header line naming its columns");
        }
    }

    /// <summary>Adds one row, or returns why it is bad (naming the column and the value).</summary>
    private static string? Add(EventTable table, List<string> fields, int[] at, string[] names)
    {
        string user = fields[at[0]], item = fields[at[1]], time = fields[at[2]];
        if (user.Length == 0)
        {
            return $"column {Quote.Of(names[0])} (user) is empty: a null id";
        }

        if (item.Length == 0)
        {
            return $"column {Quote.Of(names[1])} (item) is empty: a null id";
        }

        if (EventValues.Time(time.Trim(), table.Columns.TimeUnit) is not long ms)
        {
            return $"column {Quote.Of(names[2])} (time) value {Quote.Of(time)} is {EventValues.TimeRule(table.Columns.TimeUnit)}";
        }

        var role = EventTable.Role.Target | EventTable.Role.History;
        if (at[4] >= 0)
        {
            role = table.RoleOf(fields[at[4]]);
        }

        if (at[5] >= 0)
        {
            if (EventValues.Label(fields[at[5]]) is not bool clicked)
            {
                return $"column {Quote.Of(names[5])} (label) value {Quote.Of(fields[at[5]])} is {EventValues.LabelRule}";
            }

            role = clicked ? role | EventTable.Role.Clicked : role & ~EventTable.Role.History;
        }

        if (!EventTable.IsUsed(role))
        {
            table.CountUnused();
            return null;
        }

        int category = at[3] >= 0 && fields[at[3]].Length > 0 ? table.Categories.Of(fields[at[3]]) : -1;
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
