namespace Dien.Checkpoints;

/// <summary>The table of contents of a checkpoint archive.</summary>
internal sealed class CheckpointManifest
{
    public int FormatVersion { get; set; }

    public string ModelKind { get; set; } = string.Empty;

    public Dictionary<string, CheckpointEntry> Entries { get; set; } = new();
}

/// <summary>Size and SHA-256 (hex) of one archive entry.</summary>
internal sealed class CheckpointEntry
{
    public long Size { get; set; }

    public string Sha256 { get; set; } = string.Empty;
}
