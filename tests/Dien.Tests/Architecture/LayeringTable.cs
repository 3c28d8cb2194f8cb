using System.Globalization;
using System.Text.RegularExpressions;

namespace Dien.Tests.Architecture;

/// <summary>
/// The library's layering rules as docs/architecture.md states them: the Markdown table between
/// <see cref="Begin"/> and <see cref="End"/>, one row per namespace with its rank and the ranks it may use.
/// The doc is the one place the rules are written; <see cref="LayeringTests"/> checks the assembly against them.
/// </summary>
internal static partial class LayeringTable
{
    /// <summary>The line before the table.</summary>
    public const string Begin = "<!-- layering-table:begin -->";

    /// <summary>The line after the table.</summary>
    public const string End = "<!-- layering-table:end -->";

    private static readonly string[] Header = { "Namespace", "Rank", "May use" };

    /// <summary>The doc that holds the table, relative to the repository root.</summary>
    public static string DocPath => Path.Combine("docs", "architecture.md");

    /// <summary>The rules of the library, read from <see cref="DocPath"/>.</summary>
    /// <exception cref="InvalidDataException">The doc has no well-formed table (the message names the line and what is wrong).</exception>
    public static IReadOnlyList<Layer> Read()
    {
        string path = Path.Combine(RepoPaths.Root, DocPath);
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"{path} does not exist: the layering rules are read from its table.");
        }

        return Parse(File.ReadAllLines(path), DocPath);
    }

    /// <summary>Reads the table between the markers of a Markdown document.</summary>
    /// <param name="lines">The document's lines.</param>
    /// <param name="source">The document's name, for messages.</param>
    /// <returns>The rows, in the table's order.</returns>
    /// <exception cref="InvalidDataException">A marker is missing, repeated or out of order, the header differs, or a row does not parse.</exception>
    public static IReadOnlyList<Layer> Parse(IReadOnlyList<string> lines, string source)
    {
        int begin = Marker(lines, Begin, source);
        int end = Marker(lines, End, source);
        if (end < begin)
        {
            throw Problem(source, end, $"'{End}' comes before '{Begin}' (line {begin + 1}).");
        }

        var rows = new List<(int Line, string[] Cells)>();
        for (int i = begin + 1; i < end; i++)
        {
            if (!string.IsNullOrWhiteSpace(lines[i]))
            {
                rows.Add((i, Cells(lines[i], i, source)));
            }
        }

        if (rows.Count < 3)
        {
            throw Problem(source, begin, $"the layering table needs a header '| {string.Join(" | ", Header)} |', a separator and at least one row between the markers; found {rows.Count} line(s).");
        }

        var (headerLine, header) = rows[0];
        if (!header.SequenceEqual(Header, StringComparer.Ordinal))
        {
            throw Problem(source, headerLine, $"the header must be '| {string.Join(" | ", Header)} |', found '{lines[headerLine].Trim()}'.");
        }

        var (separatorLine, separator) = rows[1];
        if (separator.Length != Header.Length || !separator.All(c => SeparatorCell().IsMatch(c)))
        {
            throw Problem(source, separatorLine, $"the line after the header must be the separator '| --- | --- | --- |', found '{lines[separatorLine].Trim()}'.");
        }

        var layers = new List<Layer>();
        foreach (var (line, cells) in rows.Skip(2))
        {
            var layer = Row(cells, lines[line].Trim(), line, source);
            if (layers.Find(l => l.Namespace == layer.Namespace) is { } earlier)
            {
                throw Problem(source, line, $"{layer.Namespace} has a second row (the first says rank {earlier.Rank}).");
            }

            layers.Add(layer);
        }

        return layers;
    }

    private static Layer Row(string[] cells, string text, int line, string source)
    {
        if (cells.Length != Header.Length)
        {
            throw Problem(source, line, $"a row has {Header.Length} cells (namespace, rank, may use), this one has {cells.Length}: '{text}'.");
        }

        var name = NamespaceCell().Match(cells[0]);
        if (!name.Success)
        {
            throw Problem(source, line, $"the namespace must be written as code, such as `Dien.Model`; found '{cells[0]}' in '{text}'.");
        }

        string ns = name.Groups[1].Value;
        if (!int.TryParse(cells[1], NumberStyles.None, CultureInfo.InvariantCulture, out int rank))
        {
            throw Problem(source, line, $"the rank of {ns} must be a whole number of 0 or more; found '{cells[1]}'.");
        }

        int mayUseUpTo;
        if (cells[2] == "nothing")
        {
            mayUseUpTo = -1;
        }
        else if (cells[2] == "rank 0")
        {
            mayUseUpTo = 0;
        }
        else if (RanksCell().Match(cells[2]) is { Success: true } ranks)
        {
            mayUseUpTo = int.Parse(ranks.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture);
        }
        else
        {
            throw Problem(source, line, $"'May use' of {ns} must be 'nothing', 'rank 0' or 'ranks 0-N'; found '{cells[2]}'.");
        }

        if (mayUseUpTo >= rank)
        {
            throw Problem(source, line, $"{ns} has rank {rank} but may use up to rank {mayUseUpTo}: a namespace may use only lower ranks (references point down, never to a peer).");
        }

        return new Layer(ns, rank, mayUseUpTo);
    }

    private static int Marker(IReadOnlyList<string> lines, string marker, string source)
    {
        var at = Enumerable.Range(0, lines.Count).Where(i => lines[i].Trim() == marker).ToList();
        return at.Count switch
        {
            1 => at[0],
            0 => throw new InvalidDataException($"{source}: no line '{marker}'; the layering table must stand between '{Begin}' and '{End}', each alone on its line."),
            _ => throw Problem(source, at[1], $"'{marker}' appears {at.Count} times (lines {string.Join(", ", at.Select(i => i + 1))}); it must appear once."),
        };
    }

    private static string[] Cells(string text, int line, string source)
    {
        string row = text.Trim();
        if (row.Length < 2 || row[0] != '|' || row[^1] != '|')
        {
            throw Problem(source, line, $"every line between the markers must be a table row starting and ending with '|'; found '{row}'.");
        }

        return row[1..^1].Split('|').Select(c => c.Trim()).ToArray();
    }

    private static InvalidDataException Problem(string source, int line, string message) => new($"{source}, line {line + 1}: {message}");

    [GeneratedRegex(@"^:?-{3,}:?$")]
    private static partial Regex SeparatorCell();

    [GeneratedRegex(@"^`(Dien(?:\.[A-Za-z][A-Za-z0-9]*)*)`$")]
    private static partial Regex NamespaceCell();

    [GeneratedRegex(@"^ranks 0-([0-9]+)$")]
    private static partial Regex RanksCell();

    /// <summary>One row: a namespace (with its sub-namespaces), its rank, and the highest rank it may use (-1: none).</summary>
    /// <param name="Namespace">The namespace.</param>
    /// <param name="Rank">Its rank; namespaces of one rank are peers.</param>
    /// <param name="MayUseUpTo">The highest rank its types may reference, always below <paramref name="Rank"/> in the doc.</param>
    internal sealed record Layer(string Namespace, int Rank, int MayUseUpTo);
}
