namespace Dien.Checkpoints;

/// <summary>
/// A checkpoint read once and verified (<see cref="CheckpointReader.Open"/>): its manifest, every entry's bytes and the
/// file's SHA-256 (lower-case hex). Everything else is taken from this one read, so a file replaced meanwhile cannot
/// mix two versions.
/// </summary>
internal sealed record VerifiedCheckpoint(string Path, CheckpointManifest Manifest, Dictionary<string, byte[]> Entries, string Sha256)
{
    /// <summary>The format version it was written in.</summary>
    public int Version => Manifest.FormatVersion;
}
