using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dien.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Checkpoints;

/// <summary>
/// One checkpoint file: a zip with <c>manifest.json</c> (format version, model kind, size and SHA-256 of every
/// entry), <c>options.json</c>, <c>vocabularies.json</c>, <c>weights.bin</c> (TorchSharp module format), and for
/// training <c>optimizer.bin</c> and <c>training.json</c>. Written to a temporary file in the same folder, flushed,
/// then renamed over the target, so a crash never destroys the previous checkpoint.
/// </summary>
public static class Checkpoint
{
    /// <summary>The format version written; other versions are rejected.</summary>
    public const int FormatVersion = 1;

    private const string ManifestEntry = "manifest.json";
    private const string OptionsEntry = "options.json";
    private const string VocabulariesEntry = "vocabularies.json";
    private const string WeightsEntry = "weights.bin";
    private const string OptimizerEntry = "optimizer.bin";
    private const string TrainingEntry = "training.json";

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>Writes an inference checkpoint: model weights, options, kind and vocabularies.</summary>
    /// <param name="path">The file to write (replaced atomically).</param>
    /// <param name="model">The model.</param>
    /// <param name="vocabularies">Named id maps (e.g. "item" -> raw id -> index); may be null.</param>
    public static void Save(string path, CtrModel model, IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>>? vocabularies = null)
        => Save(path, model, vocabularies, null, null);

    /// <summary>Reads the manifest, options and vocabularies of a checkpoint without building a model.</summary>
    /// <param name="path">The checkpoint.</param>
    /// <returns>The model kind and its options.</returns>
    /// <exception cref="CheckpointException">The file is missing, truncated or of another format version.</exception>
    public static (string Kind, DienOptions Options) ReadHeader(string path)
    {
        var entries = ReadVerified(path);
        var manifest = Deserialize<CheckpointManifest>(path, entries, ManifestEntry);
        return (manifest.ModelKind, Deserialize<DienOptions>(path, entries, OptionsEntry));
    }

    /// <summary>Reads the vocabularies stored in a checkpoint.</summary>
    /// <param name="path">The checkpoint.</param>
    /// <returns>The named maps (empty when none were stored).</returns>
    /// <exception cref="CheckpointException">The file is missing, truncated or of another format version.</exception>
    public static IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> ReadVocabularies(string path)
    {
        var entries = ReadVerified(path);
        var maps = Deserialize<Dictionary<string, Dictionary<string, long>>>(path, entries, VocabulariesEntry);
        return maps.ToDictionary(p => p.Key, p => (IReadOnlyDictionary<string, long>)p.Value);
    }

    /// <summary>Reads the training state of a checkpoint without touching a model.</summary>
    /// <param name="path">The checkpoint.</param>
    /// <returns>The training state, or null when the checkpoint was written for inference only.</returns>
    /// <exception cref="CheckpointException">The file is missing, truncated or of another format version.</exception>
    internal static TrainingState? ReadTrainingState(string path)
    {
        var entries = ReadVerified(path);
        return entries.ContainsKey(TrainingEntry) ? Deserialize<TrainingState>(path, entries, TrainingEntry) : null;
    }

    /// <summary>Builds the model a checkpoint describes (through <see cref="ModelKinds"/>) and loads its weights, on CPU.</summary>
    /// <param name="path">The checkpoint.</param>
    /// <returns>The model, in eval mode.</returns>
    /// <exception cref="CheckpointException">The file cannot be used.</exception>
    /// <exception cref="ArgumentException">Its model kind is not registered.</exception>
    public static CtrModel LoadModel(string path)
    {
        var (kind, options) = ReadHeader(path);
        var model = ModelKinds.Create(kind, options);
        try
        {
            LoadInto(path, model, null);
        }
        catch
        {
            model.Dispose();
            throw;
        }

        model.eval();
        return model;
    }

    /// <summary>Loads the weights (and, when given, the optimizer state) of a checkpoint into an existing model.</summary>
    /// <param name="path">The checkpoint.</param>
    /// <param name="model">A model built with the same options.</param>
    /// <param name="optimizer">The optimizer to restore; null to skip.</param>
    /// <returns>The training state, or null when the checkpoint has none.</returns>
    /// <exception cref="CheckpointException">The file is missing, truncated, of another format version, or for other options or another model kind.</exception>
    public static TrainingState? LoadInto(string path, CtrModel model, optim.Optimizer? optimizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        var entries = ReadVerified(path);
        var manifest = Deserialize<CheckpointManifest>(path, entries, ManifestEntry);
        string kind = ModelKinds.KindOf(model);
        if (manifest.ModelKind != kind)
        {
            throw new CheckpointException(path, $"it holds a '{manifest.ModelKind}' model, not a '{kind}'.");
        }

        string stored = Utf8(entries[OptionsEntry]);
        string current = JsonSerializer.Serialize(model.Options, Json);
        if (stored != current)
        {
            throw new CheckpointException(path, $"its options differ from the model's: {DescribeDifference(stored, current)}.");
        }

        try
        {
            using (var reader = new BinaryReader(new MemoryStream(entries[WeightsEntry])))
            {
                model.load(reader, strict: true);
            }
        }
        catch (Exception e) when (e is not CheckpointException)
        {
            throw new CheckpointException(path, $"its weights do not fit the model ({e.Message}).", e);
        }

        if (!entries.TryGetValue(TrainingEntry, out var training))
        {
            return null;
        }

        if (optimizer is not null)
        {
            if (!entries.TryGetValue(OptimizerEntry, out var optimizerBytes))
            {
                throw new CheckpointException(path, "it has training state but no optimizer state.");
            }

            using var reader = new BinaryReader(new MemoryStream(optimizerBytes));
            ((TorchSharp.Modules.OptimizerHelper)optimizer).load_state_dict(reader);
        }

        return JsonSerializer.Deserialize<TrainingState>(training, Json);
    }

    internal static void Save(
        string path,
        CtrModel model,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>>? vocabularies,
        TrainingState? state,
        optim.Optimizer? optimizer)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(model);
        var entries = new SortedDictionary<string, byte[]>(StringComparer.Ordinal)
        {
            [OptionsEntry] = JsonSerializer.SerializeToUtf8Bytes(model.Options, Json),
            [VocabulariesEntry] = JsonSerializer.SerializeToUtf8Bytes(vocabularies ?? new Dictionary<string, IReadOnlyDictionary<string, long>>(), Json),
            [WeightsEntry] = Bytes(w => model.save(w)),
        };
        if (state is not null)
        {
            entries[TrainingEntry] = JsonSerializer.SerializeToUtf8Bytes(state, Json);
        }

        if (optimizer is not null)
        {
            entries[OptimizerEntry] = Bytes(w => ((TorchSharp.Modules.OptimizerHelper)optimizer).save_state_dict(w));
        }

        var manifest = new CheckpointManifest
        {
            FormatVersion = FormatVersion,
            ModelKind = ModelKinds.KindOf(model),
            Entries = entries.ToDictionary(e => e.Key, e => new CheckpointEntry { Size = e.Value.LongLength, Sha256 = Convert.ToHexString(SHA256.HashData(e.Value)) }),
        };

        string full = System.IO.Path.GetFullPath(path);
        string folder = System.IO.Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(folder);
        string temporary = System.IO.Path.Combine(folder, $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                using (var zip = new ZipArchive(file, ZipArchiveMode.Create, leaveOpen: true))
                {
                    // The manifest first, so a reader learns the format version before anything else.
                    Write(zip, ManifestEntry, JsonSerializer.SerializeToUtf8Bytes(manifest, Json));
                    foreach (var (name, bytes) in entries)
                    {
                        Write(zip, name, bytes);
                    }
                }

                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, full, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    private static void Write(ZipArchive zip, string name, byte[] bytes)
    {
        using var stream = zip.CreateEntry(name, CompressionLevel.Fastest).Open();
        stream.Write(bytes);
    }

    private static byte[] Bytes(Action<BinaryWriter> write)
    {
        using var memory = new MemoryStream();
        using (var writer = new BinaryWriter(memory, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            write(writer);
        }

        return memory.ToArray();
    }

    private static string Utf8(byte[] bytes) => System.Text.Encoding.UTF8.GetString(bytes);

    private static Dictionary<string, byte[]> ReadVerified(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new CheckpointException(path, "the file does not exist.");
        }

        var entries = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        try
        {
            using var zip = ZipFile.OpenRead(path);
            foreach (var entry in zip.Entries)
            {
                using var stream = entry.Open();
                using var memory = new MemoryStream();
                stream.CopyTo(memory);
                entries[entry.FullName] = memory.ToArray();
            }
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new CheckpointException(path, $"it is not a complete checkpoint archive (truncated or corrupt: {e.Message}).", e);
        }

        if (!entries.TryGetValue(ManifestEntry, out var manifestBytes))
        {
            throw new CheckpointException(path, $"it has no {ManifestEntry}.");
        }

        CheckpointManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<CheckpointManifest>(manifestBytes, Json)!;
        }
        catch (JsonException e)
        {
            throw new CheckpointException(path, $"its {ManifestEntry} is unreadable ({e.Message}).", e);
        }

        if (manifest.FormatVersion != FormatVersion)
        {
            throw new CheckpointException(path, $"its format version is {manifest.FormatVersion}; this library reads version {FormatVersion}.");
        }

        foreach (var (name, expected) in manifest.Entries)
        {
            if (!entries.TryGetValue(name, out var bytes))
            {
                throw new CheckpointException(path, $"entry '{name}' listed in the manifest is missing.");
            }

            if (bytes.LongLength != expected.Size || Convert.ToHexString(SHA256.HashData(bytes)) != expected.Sha256)
            {
                throw new CheckpointException(path, $"entry '{name}' is damaged (size or SHA-256 differs from the manifest).");
            }
        }

        foreach (var required in new[] { OptionsEntry, VocabulariesEntry, WeightsEntry })
        {
            if (!manifest.Entries.ContainsKey(required))
            {
                throw new CheckpointException(path, $"it has no {required}.");
            }
        }

        return entries;
    }

    private static T Deserialize<T>(string path, Dictionary<string, byte[]> entries, string name)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(entries[name], Json) ?? throw new CheckpointException(path, $"{name} is empty.");
        }
        catch (JsonException e)
        {
            throw new CheckpointException(path, $"{name} is unreadable ({e.Message}).", e);
        }
    }

    private static string DescribeDifference(string stored, string current)
    {
        using var a = JsonDocument.Parse(stored);
        using var b = JsonDocument.Parse(current);
        var differences = new List<string>();
        foreach (var property in a.RootElement.EnumerateObject())
        {
            string mine = b.RootElement.TryGetProperty(property.Name, out var other) ? other.GetRawText() : "(absent)";
            if (mine != property.Value.GetRawText())
            {
                differences.Add($"{property.Name} is {property.Value.GetRawText()} in the file but {mine} in the model");
            }
        }

        return differences.Count == 0 ? "their JSON differs" : string.Join("; ", differences);
    }
}
