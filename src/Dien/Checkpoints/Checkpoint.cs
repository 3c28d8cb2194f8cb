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
/// then renamed over the target and the folder flushed (fsync on Linux and macOS), so neither a crash nor a power loss
/// destroys the previous checkpoint; the next save removes temporaries an interrupted save left behind.
/// </summary>
/// <remarks>
/// Reading opens the file once and verifies it whole (every entry's CRC-32, the manifest, every entry's size and
/// SHA-256) before anything is used: a missing, truncated, damaged or inconsistent file is a
/// <see cref="CheckpointException"/> naming the file, the entry and the reason, and a failed load into a model and
/// optimizer leaves both as they were.
/// </remarks>
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
        var contents = Open(path);
        return (contents.Manifest.ModelKind, Deserialize<DienOptions>(path, contents.Entries, OptionsEntry));
    }

    /// <summary>Reads the vocabularies stored in a checkpoint.</summary>
    /// <param name="path">The checkpoint.</param>
    /// <returns>The named maps (empty when none were stored).</returns>
    /// <exception cref="CheckpointException">The file is missing, truncated or of another format version.</exception>
    public static IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> ReadVocabularies(string path)
    {
        return VocabulariesOf(Open(path));
    }

    internal static IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> VocabulariesOf(Contents contents)
    {
        var maps = Deserialize<Dictionary<string, Dictionary<string, long>?>>(contents.Path, contents.Entries, VocabulariesEntry);
        return maps.ToDictionary(
            p => p.Key,
            p => (IReadOnlyDictionary<string, long>)(p.Value ?? throw new CheckpointException(contents.Path, $"entry '{VocabulariesEntry}': vocabulary {Data.Quote.Of(p.Key)} is null.")));
    }

    /// <summary>The training state of a read checkpoint (checked for consistency), or null when it was written for inference only.</summary>
    internal static TrainingState? TrainingStateOf(Contents contents)
    {
        if (!contents.Entries.ContainsKey(TrainingEntry))
        {
            return null;
        }

        var state = Deserialize<TrainingState>(contents.Path, contents.Entries, TrainingEntry);
        string? wrong = state.CompletedEpochs < 0 ? $"CompletedEpochs is {state.CompletedEpochs}"
            : state.BestEpoch < -1 || state.BestEpoch >= Math.Max(state.CompletedEpochs, 1) && state.BestEpoch != -1 ? $"BestEpoch {state.BestEpoch} is not below CompletedEpochs {state.CompletedEpochs}"
            : state.EpochsWithoutImprovement < 0 ? $"EpochsWithoutImprovement is {state.EpochsWithoutImprovement}"
            : state.BatchesIntoEpoch < 0 || state.PartialSamples < 0 ? $"BatchesIntoEpoch is {state.BatchesIntoEpoch}, PartialSamples {state.PartialSamples}"
            : null;
        return wrong is null ? state : throw new CheckpointException(contents.Path, $"entry '{TrainingEntry}' is inconsistent: {wrong}.");
    }

    /// <summary>Builds the model a checkpoint describes (through <see cref="ModelKinds"/>) and loads its weights, on CPU.</summary>
    /// <param name="path">The checkpoint.</param>
    /// <returns>The model, in eval mode.</returns>
    /// <exception cref="CheckpointException">The file cannot be used.</exception>
    /// <exception cref="ArgumentException">Its model kind is not registered.</exception>
    public static CtrModel LoadModel(string path) => LoadModel(Open(path));

    /// <summary>As <see cref="LoadModel(string)"/>, from one verified read of the file (the predictor takes its vocabularies from the same read).</summary>
    internal static CtrModel LoadModel(Contents contents, out IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> vocabularies)
    {
        vocabularies = VocabulariesOf(contents);
        return LoadModel(contents);
    }

    private static CtrModel LoadModel(Contents contents)
    {
        var options = Deserialize<DienOptions>(contents.Path, contents.Entries, OptionsEntry);
        var model = ModelKinds.Create(contents.Manifest.ModelKind, options);
        try
        {
            LoadInto(contents, model, null, requireTraining: false);
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
        return LoadInto(Open(path), model, optimizer, requireTraining: false);
    }

    /// <summary>
    /// Checks everything the checkpoint holds against <paramref name="model"/> first, then loads the weights and
    /// the optimizer state; when either fails part way, both are put back as they were before the call.
    /// </summary>
    internal static TrainingState? LoadInto(Contents contents, CtrModel model, optim.Optimizer? optimizer, bool requireTraining)
    {
        string path = contents.Path;
        var entries = contents.Entries;
        string kind = ModelKinds.KindOf(model);
        if (contents.Manifest.ModelKind != kind)
        {
            throw new CheckpointException(path, $"it holds a {Data.Quote.Of(contents.Manifest.ModelKind)} model, not a '{kind}'.");
        }

        string stored = Utf8(entries[OptionsEntry]);
        string current = JsonSerializer.Serialize(model.Options, Json);
        if (stored != current)
        {
            throw new CheckpointException(path, $"entry '{OptionsEntry}' differs from the model's options: {DescribeDifference(path, stored, current)}.");
        }

        var state = TrainingStateOf(contents);
        if (state is null && requireTraining)
        {
            throw new CheckpointException(path, "it holds no training state (it was written for inference only).");
        }

        byte[]? optimizerBytes = null;
        if (state is not null && optimizer is not null && !entries.TryGetValue(OptimizerEntry, out optimizerBytes))
        {
            throw new CheckpointException(path, $"it has training state but no '{OptimizerEntry}'.");
        }

        // What to put back if a load fails part way.
        var weightsBefore = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using (torch.no_grad())
        {
            foreach (var (name, tensor) in model.state_dict())
            {
                weightsBefore[name] = tensor.detach().clone().DetachFromDisposeScope();
            }
        }

        byte[]? optimizerBefore = optimizerBytes is null ? null : Bytes(w => ((TorchSharp.Modules.OptimizerHelper)optimizer!).save_state_dict(w));
        string entry = WeightsEntry;
        try
        {
            using (var reader = new BinaryReader(new MemoryStream(entries[WeightsEntry])))
            {
                model.load(reader, strict: true);
            }

            if (optimizerBytes is not null)
            {
                entry = OptimizerEntry;
                using var reader = new BinaryReader(new MemoryStream(optimizerBytes));
                ((TorchSharp.Modules.OptimizerHelper)optimizer!).load_state_dict(reader);
            }
        }
        catch (Exception e)
        {
            Restore(model, weightsBefore);
            if (optimizerBefore is not null)
            {
                using var reader = new BinaryReader(new MemoryStream(optimizerBefore));
                ((TorchSharp.Modules.OptimizerHelper)optimizer!).load_state_dict(reader);
            }

            throw new CheckpointException(path, $"entry '{entry}' does not fit the {(entry == WeightsEntry ? "model" : "optimizer")} ({e.Message}); nothing was changed.", e);
        }
        finally
        {
            foreach (var tensor in weightsBefore.Values)
            {
                tensor.Dispose();
            }
        }

        return state;
    }

    private static void Restore(CtrModel model, Dictionary<string, Tensor> weights)
    {
        using var noGrad = torch.no_grad();
        foreach (var (name, tensor) in model.state_dict())
        {
            if (weights.TryGetValue(name, out var before))
            {
                tensor.copy_(before); // load() checks shapes and dtypes before copying, so these still match

            }
        }
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
        RemoveStaleTemporaries(folder, System.IO.Path.GetFileName(full));
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
            DirectorySync.Flush(folder); // the rename itself survives a power loss only once the folder is on disk
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>How long a temporary of this checkpoint must have been left unwritten before a save removes it.</summary>
    internal static TimeSpan StaleAfter { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Removes <c>.name.guid.tmp</c> files that an interrupted save of this same checkpoint left behind. A temporary
    /// written to within <see cref="StaleAfter"/> may belong to a save still running in another process and is kept.
    /// </summary>
    private static void RemoveStaleTemporaries(string folder, string name)
    {
        string prefix = "." + name + ".";
        foreach (string file in Directory.EnumerateFiles(folder, prefix + "*.tmp"))
        {
            string guid = System.IO.Path.GetFileName(file)[prefix.Length..^".tmp".Length];
            if (guid.Length != 32 || !Guid.TryParseExact(guid, "N", out _))
            {
                continue; // not one of ours
            }

            try
            {
                if (DateTime.UtcNow - File.GetLastWriteTimeUtc(file) >= StaleAfter)
                {
                    File.Delete(file);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Removed meanwhile, or not ours to remove: the save goes on.
            }
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

    /// <summary>
    /// Reads the file once into memory and verifies it: every entry's CRC-32 against the zip directory (so damage to any
    /// entry, the manifest included, is caught), the manifest's format version, model kind and entry table, and every
    /// listed entry's size and SHA-256.
    /// </summary>
    internal static Contents Open(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new CheckpointException(path, "the file does not exist.");
        }

        byte[] file;
        try
        {
            file = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(path, $"it cannot be read ({e.Message}).", e);
        }

        var entries = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        try
        {
            using var zip = new ZipArchive(new MemoryStream(file, writable: false), ZipArchiveMode.Read);
            foreach (var entry in zip.Entries)
            {
                if (entry.Length > file.LongLength * 1100L + (1 << 20))
                {
                    throw new InvalidDataException($"entry '{Data.Quote.Of(entry.FullName)}' claims {entry.Length} bytes, more than the file could hold");
                }

                using var stream = entry.Open();
                using var memory = new MemoryStream();
                stream.CopyTo(memory);
                byte[] bytes = memory.ToArray();
                if (bytes.LongLength != entry.Length || Crc32(bytes) != entry.Crc32)
                {
                    throw new InvalidDataException($"entry {Data.Quote.Of(entry.FullName)} fails its CRC-32 or size check");
                }

                if (!entries.TryAdd(entry.FullName, bytes))
                {
                    throw new InvalidDataException($"entry {Data.Quote.Of(entry.FullName)} appears twice");
                }
            }
        }
        catch (Exception e) when (e is not CheckpointException and not OutOfMemoryException)
        {
            // InvalidDataException, IOException, NotSupportedException (a damaged compression method), ...: all damage.
            throw new CheckpointException(path, $"it is damaged or truncated ({e.Message}).", e);
        }

        if (!entries.TryGetValue(ManifestEntry, out var manifestBytes))
        {
            throw new CheckpointException(path, $"it has no {ManifestEntry}.");
        }

        CheckpointManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<CheckpointManifest>(manifestBytes, Json);
        }
        catch (JsonException e)
        {
            throw new CheckpointException(path, $"entry '{ManifestEntry}' is unreadable ({e.Message}).", e);
        }

        if (manifest is null || manifest.Entries is null || string.IsNullOrWhiteSpace(manifest.ModelKind) || manifest.Entries.Values.Any(v => v is null || v.Sha256 is null))
        {
            throw new CheckpointException(path, $"entry '{ManifestEntry}' is incomplete (no model kind or no entry table).");
        }

        if (manifest.FormatVersion != FormatVersion)
        {
            throw new CheckpointException(path, $"its format version is {manifest.FormatVersion}; this library reads version {FormatVersion}.");
        }

        foreach (var (name, expected) in manifest.Entries)
        {
            if (!entries.TryGetValue(name, out var bytes))
            {
                throw new CheckpointException(path, $"entry {Data.Quote.Of(name)} listed in the manifest is missing.");
            }

            if (bytes.LongLength != expected.Size || Convert.ToHexString(SHA256.HashData(bytes)) != expected.Sha256)
            {
                throw new CheckpointException(path, $"entry '{name}' is damaged (size or SHA-256 differs from the manifest).");
            }
        }

        foreach (var (name, _) in entries)
        {
            if (name != ManifestEntry && !manifest.Entries.ContainsKey(name))
            {
                throw new CheckpointException(path, $"entry {Data.Quote.Of(name)} is not listed in the manifest.");
            }
        }

        foreach (var required in new[] { OptionsEntry, VocabulariesEntry, WeightsEntry })
        {
            if (!manifest.Entries.ContainsKey(required))
            {
                throw new CheckpointException(path, $"it has no {required}.");
            }
        }

        return new Contents(path, manifest, entries);
    }

    private static uint Crc32(byte[] bytes)
    {
        var table = Crc32Table.Value;
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in bytes)
        {
            crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return ~crc;
    }

    private static readonly Lazy<uint[]> Crc32Table = new(() =>
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[i] = c;
        }

        return table;
    });

    /// <summary>A checkpoint read once and verified: its manifest and every entry's bytes.</summary>
    internal sealed record Contents(string Path, CheckpointManifest Manifest, Dictionary<string, byte[]> Entries);

    private static T Deserialize<T>(string path, Dictionary<string, byte[]> entries, string name)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(entries[name], Json) ?? throw new CheckpointException(path, $"entry '{name}' is empty.");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException or ArgumentException)
        {
            throw new CheckpointException(path, $"entry '{name}' is unreadable ({e.Message}).", e);
        }
    }

    private static string DescribeDifference(string path, string stored, string current)
    {
        try
        {
            return Differences(stored, current);
        }
        catch (JsonException e)
        {
            throw new CheckpointException(path, $"entry '{OptionsEntry}' is unreadable ({e.Message}).", e);
        }
    }

    private static string Differences(string stored, string current)
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
