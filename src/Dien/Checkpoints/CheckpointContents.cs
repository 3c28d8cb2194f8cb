using Dien.Model;

namespace Dien.Checkpoints;

/// <summary>
/// The typed contents of a checkpoint file as one verified read found them: the format version, the model kind, the
/// options, the data maps and the history cut, and the SHA-256 of the bytes read. This is the contract between training,
/// serving and the Python package; <see cref="Checkpoint"/> documents the layout and which versions load.
/// </summary>
public sealed class CheckpointContents
{
    internal CheckpointContents(string path, int formatVersion, string modelKind, CtrModelOptions options, CheckpointData data, string sha256)
    {
        Path = path;
        FormatVersion = formatVersion;
        ModelKind = modelKind;
        Options = options;
        Data = data;
        Sha256 = sha256;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>The format version the file was written in (older versions are migrated on reading).</summary>
    public int FormatVersion { get; }

    /// <summary>The model kind (see <see cref="ModelKinds"/>), e.g. <c>DienModel</c>.</summary>
    public string ModelKind { get; }

    /// <summary>The options the model was built with; properties an older file lacks hold the value its release used.</summary>
    public CtrModelOptions Options { get; }

    /// <summary>The id maps, the item categories and the history cut.</summary>
    public CheckpointData Data { get; }

    /// <summary>SHA-256 (lower-case hex) of the file's bytes as read: a version that names exactly what was loaded.</summary>
    public string Sha256 { get; }
}
