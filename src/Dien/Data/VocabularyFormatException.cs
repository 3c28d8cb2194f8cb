namespace Dien.Data;

/// <summary>
/// A vocabulary file (pickle or JSON) cannot be read: it is truncated or damaged, not a map of string -> id, or
/// the map is not a usable id table (a negative, repeated or absurdly large id, a repeated key). The message
/// names the file and, where there is one, the byte offset or line of the problem.
/// </summary>
public sealed class VocabularyFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="path">The vocabulary file (or a description of the source).</param>
    /// <param name="problem">What was wrong, with its byte offset or line when known.</param>
    /// <param name="inner">The underlying failure, if any.</param>
    public VocabularyFormatException(string path, string problem, Exception? inner = null)
        : base($"{path}: {problem}", inner)
    {
        Path = path;
        Problem = problem;
    }

    /// <summary>The vocabulary file.</summary>
    public string Path { get; }

    /// <summary>What was wrong.</summary>
    public string Problem { get; }
}
