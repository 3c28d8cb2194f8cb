namespace Dien.Checkpoints;

/// <summary>A checkpoint file cannot be used; the message names the file and what is wrong.</summary>
public sealed class CheckpointException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="path">The checkpoint file.</param>
    /// <param name="problem">What is wrong with it.</param>
    /// <param name="inner">The underlying failure, if any.</param>
    public CheckpointException(string path, string problem, Exception? inner = null)
        : base($"Checkpoint '{path}' cannot be loaded: {problem}", inner)
    {
        Path = path;
    }

    /// <summary>The checkpoint file.</summary>
    public string Path { get; }

    /// <summary>SHA-256 (lower-case hex) of the bytes read, when the file could be read; null otherwise.</summary>
    /// <value>Names exactly which version of a file was refused, without reading it again.</value>
    public string? Sha256 { get; internal set; }
}
