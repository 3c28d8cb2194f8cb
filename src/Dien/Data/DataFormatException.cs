namespace Dien.Data;

/// <summary>A line of an input file could not be read; the message names the file, the line number and the problem.</summary>
public sealed class DataFormatException : FormatException
{
    /// <summary>Creates the exception for <paramref name="path"/> at 1-based <paramref name="lineNumber"/>.</summary>
    /// <param name="path">The file (or a description of the source).</param>
    /// <param name="lineNumber">1-based line number.</param>
    /// <param name="problem">What was wrong.</param>
    public DataFormatException(string path, long lineNumber, string problem)
        : this(path, $"line {lineNumber}", lineNumber, problem)
    {
    }

    /// <summary>
    /// Creates the exception for a place that is not a text line, such as a row of a Parquet row group
    /// (<c>row group 2, row 17</c>) or the file's schema.
    /// </summary>
    /// <param name="path">The file (or a description of the source).</param>
    /// <param name="place">Where in the file, as the message shows it (e.g. <c>row group 2, row 17</c>).</param>
    /// <param name="lineNumber">1-based row of the file, counted over all its row groups; 0 for the file as a whole (its schema).</param>
    /// <param name="problem">What was wrong.</param>
    public DataFormatException(string path, string place, long lineNumber, string problem)
        : base($"{path}, {place}: {problem}")
    {
        Path = path;
        Place = place;
        LineNumber = lineNumber;
        Problem = problem;
    }

    /// <summary>The file the bad line came from.</summary>
    public string Path { get; }

    /// <summary>Where in the file: <c>line 12</c> for a text file, <c>row group 2, row 17</c> for a Parquet file.</summary>
    public string Place { get; }

    /// <summary>1-based line number of the bad line (for a Parquet file, its row over all row groups; 0 for the schema).</summary>
    public long LineNumber { get; }

    /// <summary>What was wrong with the line.</summary>
    public string Problem { get; }
}
