using Dien.Model;
using static TorchSharp.torch;

namespace Dien.Checkpoints;

/// <summary>
/// One checkpoint file: a zip with <c>manifest.json</c> (format version, model kind, size and SHA-256 of every
/// entry), <c>options.json</c>, <c>data.json</c> (the <see cref="CheckpointData"/>: id maps, item categories, history
/// cut), <c>weights.bin</c> (TorchSharp module format), and for training <c>optimizer.bin</c> and
/// <c>training.json</c>. Written to a temporary file in the same folder, flushed, then renamed over the target and the
/// folder flushed (fsync on Linux and macOS), so neither a crash nor a power loss destroys the previous checkpoint;
/// the next save of the same file removes the temporaries that interrupted saves left behind (those no live writer
/// holds open: a writer keeps its temporary locked until the rename).
/// </summary>
/// <remarks>
/// <para>
/// Reading opens the file once and verifies it whole (every entry's CRC-32, the manifest, every entry's size and
/// SHA-256) before anything is used: a missing, truncated, damaged or inconsistent file is a
/// <see cref="CheckpointException"/> naming the file, the entry and the reason, and a failed load into a model and
/// optimizer leaves both as they were.
/// </para>
/// <para>
/// Compatibility: files of every format version from <see cref="OldestReadableFormatVersion"/> to
/// <see cref="FormatVersion"/> load. Options are compared by value, and a property an older file lacks takes the value
/// its release used (recorded per format version), so adding an option does not invalidate older files. Version 1's
/// <c>vocabularies.json</c> is migrated to <see cref="CheckpointData"/> (no history cut recorded). Files of a newer
/// format version are refused with a <see cref="CheckpointException"/> naming both versions.
/// </para>
/// <para>
/// Each job has its own type: <see cref="CheckpointWriter"/> (the atomic file), <see cref="CheckpointReader"/>
/// (verify and read), <see cref="CheckpointLoader"/> (into a model) and <see cref="CheckpointFormat"/> (what the file
/// is made of); this class is their public face.
/// </para>
/// </remarks>
public static class Checkpoint
{
    /// <summary>The format version written.</summary>
    public const int FormatVersion = 2;

    /// <summary>The oldest format version that still loads (older files are migrated on reading).</summary>
    public const int OldestReadableFormatVersion = 1;

    /// <summary>Writes an inference checkpoint: model weights, options, kind and the data maps.</summary>
    /// <param name="path">The file to write (replaced atomically).</param>
    /// <param name="model">The model.</param>
    /// <param name="data">The id maps, item categories and history cut; null for none.</param>
    /// <exception cref="ArgumentException"><paramref name="data"/> does not fit the model (an index out of its tables).</exception>
    public static void Save(string path, CtrModel model, CheckpointData? data = null)
        => CheckpointWriter.Write(path, model, data, null, null);

    /// <summary>Reads and verifies a checkpoint and returns its typed contents, without building a model.</summary>
    /// <param name="path">The checkpoint.</param>
    /// <returns>The format version, model kind, options, data and SHA-256.</returns>
    /// <exception cref="CheckpointException">The file is missing, damaged, inconsistent or of a newer format version.</exception>
    public static CheckpointContents Read(string path) => CheckpointReader.ContentsOf(CheckpointReader.Open(path));

    /// <summary>Builds the model a checkpoint describes (through <see cref="ModelKinds"/>) and loads its weights, on CPU.</summary>
    /// <param name="path">The checkpoint.</param>
    /// <returns>The model, in eval mode.</returns>
    /// <exception cref="CheckpointException">The file cannot be used.</exception>
    /// <exception cref="ArgumentException">Its model kind is not registered.</exception>
    public static CtrModel LoadModel(string path) => CheckpointLoader.LoadModel(CheckpointReader.Open(path), out _);

    /// <summary>Loads the weights (and, when given, the optimizer state) of a checkpoint into an existing model.</summary>
    /// <param name="path">The checkpoint.</param>
    /// <param name="model">A model built with the same options (compared by value, property by property).</param>
    /// <param name="optimizer">The optimizer to restore; null to skip.</param>
    /// <remarks>To continue a run where it stopped (epoch, best epoch, patience), use <see cref="Training.CtrTrainer.LoadCheckpoint"/>.</remarks>
    /// <exception cref="CheckpointException">The file is missing, truncated, of a newer format version, or for other options or another model kind.</exception>
    public static void LoadInto(string path, CtrModel model, optim.Optimizer? optimizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        CheckpointLoader.LoadInto(CheckpointReader.Open(path), model, optimizer, requireTraining: false);
    }
}
