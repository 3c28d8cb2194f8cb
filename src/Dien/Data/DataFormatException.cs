namespace Dien.Data;

/// <summary>A line of an input file could not be read; the message names the file, the line number and the problem.</summary>
public sealed class DataFormatException : FormatException
{
    /// <summary>Creates the exception for <paramref name="path"/> at 1-based <paramref name="lineNumber"/>.</summary>
    /// <param name="path">The file (or a description of the source).</param>
    /// <param name="lineNumber">1-based line number.</param>
    /// <param name="problem">What was wrong.</param>
    public DataFormatException(string path, long lineNumber, string problem)
        : base($"{path}, line {lineNumber}: {problem}")
    {
        Path = path;
        LineNumber = lineNumber;
        Problem = problem;
    }

    /// <summary>The file the bad line came from.</summary>
    public string Path { get; }

    /// <summary>1-based line number of the bad line.</summary>
    public long LineNumber { get; }

    /// <summary>What was wrong with the line.</summary>
    public string Problem { get; }
}
