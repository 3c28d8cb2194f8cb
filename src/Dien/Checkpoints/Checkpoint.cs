using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Dien.Model;
using TorchSharp;
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
/// </remarks>
public static class Checkpoint
{
    /// <summary>The format version written.</summary>
    public const int FormatVersion = 2;

    /// <summary>The oldest format version that still loads (older files are migrated on reading).</summary>
    public const int OldestReadableFormatVersion = 1;

    private const string ManifestEntry = "manifest.json";
    private const string OptionsEntry = "options.json";
    private const string DataEntry = "data.json";
    private const string WeightsEntry = "weights.bin";
    private const string OptimizerEntry = "optimizer.bin";
    private const string TrainingEntry = "training.json";

    /// <summary>The most characters of an underlying error's message quoted in a <see cref="CheckpointException"/>.</summary>
    private const int MaxQuotedChars = 200;

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The settable <see cref="DienOptions"/> properties: what options.json must hold (derived ones such as BehaviourSize are ignored).</summary>
    internal static readonly IReadOnlySet<string> OptionNames = typeof(DienOptions).GetProperties()
        .Where(p => p.CanWrite && p.GetSetMethod() is not null).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>Writes an inference checkpoint: model weights, options, kind and the data maps.</summary>
    /// <param name="path">The file to write (replaced atomically).</param>
    /// <param name="model">The model.</param>
    /// <param name="data">The id maps, item categories and history cut; null for none.</param>
    /// <exception cref="ArgumentException"><paramref name="data"/> does not fit the model (an index out of its tables).</exception>
    public static void Save(string path, CtrModel model, CheckpointData? data = null)
        => Save(path, model, data, null, null);

    /// <summary>Reads and verifies a checkpoint and returns its typed contents, without building a model.</summary>
    /// <param name="path">The checkpoint.</param>
    /// <returns>The format version, model kind, options, data and SHA-256.</returns>
    /// <exception cref="CheckpointException">The file is missing, damaged, inconsistent or of a newer format version.</exception>
    public static CheckpointContents Read(string path) => ContentsOf(Open(path));

    /// <summary>The typed contents of a verified read (older format versions migrated).</summary>
    internal static CheckpointContents ContentsOf(Contents contents)
    {
        var options = OptionsOf(contents);
        CheckpointData data;
        try
        {
            data = contents.Version == 1
                ? FormatVersion1.ReadData(FormatVersion1.Parse(contents.Entries[FormatVersion1.VocabulariesEntry], Json),
                    problem => new CheckpointException(contents.Path, $"entry '{FormatVersion1.VocabulariesEntry}': {problem}."))
                : JsonSerializer.Deserialize<CheckpointData>(contents.Entries[DataEntry], Json) ?? throw new JsonException("the entry is null");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException or ArgumentException)
        {
            throw new CheckpointException(contents.Path, $"entry '{DataEntryOf(contents)}' is unreadable ({Excerpt(e.Message)}).", e);
        }

        var problems = data.Validate(options);
        if (problems.Count > 0)
        {
            throw new CheckpointException(contents.Path, $"entry '{DataEntryOf(contents)}' does not fit the model's options: {string.Join(" ", problems)}");
        }

        return new CheckpointContents(contents.Path, contents.Version, contents.Manifest.ModelKind, options, data, contents.Sha256);
    }

    private static string DataEntryOf(Contents contents) => contents.Version == 1 ? FormatVersion1.VocabulariesEntry : DataEntry;

    /// <summary>
    /// The stored options, by value: read from options.json, with every property the file lacks taken from the table of
    /// its format version (<see cref="OptionsBaselines"/>), not from today's defaults.
    /// </summary>
    internal static DienOptions OptionsOf(Contents contents)
    {
        string path = contents.Path;
        JsonObject stored;
        try
        {
            stored = JsonNode.Parse(contents.Entries[OptionsEntry])?.AsObject() ?? throw new JsonException("the entry is null");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new CheckpointException(path, $"entry '{OptionsEntry}' is unreadable ({Excerpt(e.Message)}).", e);
        }

        var unknown = stored.Select(p => p.Key).Where(k => !OptionNames.Contains(k) && k != nameof(DienOptions.BehaviourSize)).ToList();
        if (unknown.Count > 0)
        {
            throw new CheckpointException(path, $"entry '{OptionsEntry}' sets {string.Join(", ", unknown.Select(Data.Quote.Of))}, not options of this release (format version {FormatVersion}).");
        }

        stored.Remove(nameof(DienOptions.BehaviourSize)); // derived
        foreach (var (name, value) in OptionsBaselines.For(contents.Version))
        {
            if (!stored.ContainsKey(name))
            {
                stored[name] = value?.DeepClone();
            }
        }

        var missing = OptionNames.Where(n => !stored.ContainsKey(n)).Order(StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
        {
            throw new CheckpointException(path, $"entry '{OptionsEntry}' lacks {string.Join(", ", missing)}, and no value is recorded for format version {contents.Version}.");
        }

        try
        {
            return stored.Deserialize<DienOptions>(Json) ?? throw new JsonException("the entry is null");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException or ArgumentException)
        {
            throw new CheckpointException(path, $"entry '{OptionsEntry}' is unreadable ({Excerpt(e.Message)}).", e);
        }
    }

    /// <summary>One sentence per option whose value differs (name, value in the file, value in the model); empty when none.</summary>
    internal static List<string> OptionDifferences(DienOptions stored, DienOptions current)
    {
        // Both sides go through the same serializer from typed values, so equal values give equal text.
        var a = JsonSerializer.SerializeToNode(stored, Json)!.AsObject();
        var b = JsonSerializer.SerializeToNode(current, Json)!.AsObject();
        var differences = new List<string>();
        foreach (string name in OptionNames.Order(StringComparer.Ordinal))
        {
            string mine = a[name]?.ToJsonString() ?? "null";
            string theirs = b[name]?.ToJsonString() ?? "null";
            if (mine != theirs)
            {
                differences.Add($"{name} is {mine} in the file but {theirs} in the model");
            }
        }

        return differences;
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
    public static CtrModel LoadModel(string path) => LoadModel(Open(path), out _);

    /// <summary>As <see cref="LoadModel(string)"/>, from one verified read of the file (the predictor takes the typed contents from the same read).</summary>
    internal static CtrModel LoadModel(Contents contents, out CheckpointContents typed)
    {
        try
        {
            typed = ContentsOf(contents);
        }
        catch (CheckpointException e)
        {
            e.Sha256 ??= contents.Sha256;
            throw;
        }

        var model = ModelKinds.Create(typed.ModelKind, typed.Options);
        try
        {
            LoadInto(contents, model, null, requireTraining: false);
        }
        catch (Exception e)
        {
            model.Dispose();
            if (e is CheckpointException refused)
            {
                refused.Sha256 ??= contents.Sha256;
            }

            throw;
        }

        model.eval();
        return model;
    }

    /// <summary>Loads the weights (and, when given, the optimizer state) of a checkpoint into an existing model.</summary>
    /// <param name="path">The checkpoint.</param>
    /// <param name="model">A model built with the same options (compared by value, property by property).</param>
    /// <param name="optimizer">The optimizer to restore; null to skip.</param>
    /// <returns>The training state, or null when the checkpoint has none.</returns>
    /// <exception cref="CheckpointException">The file is missing, truncated, of a newer format version, or for other options or another model kind.</exception>
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

        var differences = OptionDifferences(OptionsOf(contents), model.Options);
        if (differences.Count > 0)
        {
            throw new CheckpointException(path, $"entry '{OptionsEntry}' differs from the model's options: {string.Join("; ", differences)}.");
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

            // The underlying message may quote the entry's bytes as text: a short printable excerpt only.
            throw new CheckpointException(path, $"entry '{entry}' does not fit the {(entry == WeightsEntry ? "model" : "optimizer")} ({Excerpt(e.Message)}); nothing was changed.", e);
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

    /// <summary>
    /// At most <see cref="MaxQuotedChars"/> characters of <paramref name="text"/>, with every character outside printable
    /// ASCII shown as '?' (runs of them as one), so that a message quoting a binary entry stays short and readable.
    /// </summary>
    internal static string Excerpt(string text)
    {
        var sb = new System.Text.StringBuilder(Math.Min(text.Length, MaxQuotedChars) + 32);
        int i = 0;
        for (; i < text.Length && sb.Length < MaxQuotedChars; i++)
        {
            char c = text[i];
            bool printable = c is >= ' ' and <= '~';
            if (printable)
            {
                sb.Append(c);
            }
            else if (sb.Length == 0 || sb[^1] != '?')
            {
                sb.Append('?');
            }
        }

        if (i < text.Length)
        {
            sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"... ({text.Length} chars)");
        }

        return sb.ToString();
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
        CheckpointData? data,
        TrainingState? state,
        optim.Optimizer? optimizer)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(model);
        data ??= CheckpointData.Empty;
        var problems = data.Validate(model.Options);
        if (problems.Count > 0)
        {
            throw new ArgumentException($"The checkpoint data do not fit the model: {string.Join(" ", problems)}", nameof(data));
        }

        var entries = new SortedDictionary<string, byte[]>(StringComparer.Ordinal)
        {
            [OptionsEntry] = JsonSerializer.SerializeToUtf8Bytes(model.Options, Json),
            [DataEntry] = JsonSerializer.SerializeToUtf8Bytes(data, Json),
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
        RemoveLeftoverTemporaries(folder, System.IO.Path.GetFileName(full));
        string temporary = System.IO.Path.Combine(folder, $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            // Held open, shared for nothing but the rename, until it is renamed: a shared lock (flock) on Unix, a
            // sharing mode on Windows. Another save's exclusive open then fails, so it sees a live writer and leaves it.
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.Delete))
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
                // Renamed while still open and locked, so no other save can take it for a leftover in between.
                File.Move(temporary, full, overwrite: true);
            }

            DirectorySync.Flush(folder); // the rename itself survives a power loss only once the folder is on disk
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>
    /// Removes the <c>.name.guid.tmp</c> files that interrupted saves of this same checkpoint left behind, whatever
    /// their age. A temporary a live save is writing is held open by it until its rename, so it cannot be opened
    /// exclusively here and is kept; one that can is deleted while held, so no writer can take it back.
    /// </summary>
    private static void RemoveLeftoverTemporaries(string folder, string name)
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
                using var held = new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Locked by a save still running, removed meanwhile, or not ours to remove: the save goes on.
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

        string sha256 = Convert.ToHexString(SHA256.HashData(file)).ToLowerInvariant();
        try
        {
            return Verify(path, file, sha256);
        }
        catch (CheckpointException e)
        {
            e.Sha256 ??= sha256;
            throw;
        }
    }

    private static Contents Verify(string path, byte[] file, string sha256)
    {
        var entries = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        string? reading = null;
        try
        {
            using var zip = new ZipArchive(new MemoryStream(file, writable: false), ZipArchiveMode.Read);
            foreach (var entry in zip.Entries)
            {
                reading = entry.FullName;
                if (entry.Length > file.LongLength * 1100L + (1 << 20))
                {
                    throw new InvalidDataException($"it claims {entry.Length} bytes, more than the file could hold");
                }

                using var stream = entry.Open();
                using var memory = new MemoryStream();
                stream.CopyTo(memory);
                byte[] bytes = memory.ToArray();
                if (bytes.LongLength != entry.Length || Crc32(bytes) != entry.Crc32)
                {
                    throw new InvalidDataException("it fails its CRC-32 or size check");
                }

                if (!entries.TryAdd(entry.FullName, bytes))
                {
                    throw new InvalidDataException("it appears twice");
                }

                reading = null;
            }
        }
        catch (Exception e) when (e is not CheckpointException and not OutOfMemoryException)
        {
            // InvalidDataException, IOException, NotSupportedException (a damaged compression method), ...: all damage,
            // named by the entry being read when it showed (none: the zip directory itself).
            string where = reading is null ? "the zip directory" : $"entry {Data.Quote.Of(reading)}";
            throw new CheckpointException(path, $"it is damaged or truncated ({where}: {Excerpt(e.Message)}).", e);
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
            throw new CheckpointException(path, $"entry '{ManifestEntry}' is unreadable ({Excerpt(e.Message)}).", e);
        }

        if (manifest is null || manifest.Entries is null || string.IsNullOrWhiteSpace(manifest.ModelKind) || manifest.Entries.Values.Any(v => v is null || v.Sha256 is null))
        {
            throw new CheckpointException(path, $"entry '{ManifestEntry}' is incomplete (no model kind or no entry table).");
        }

        if (manifest.FormatVersion is < OldestReadableFormatVersion or > FormatVersion)
        {
            throw new CheckpointException(path,
                $"its format version is {manifest.FormatVersion}; this library reads versions {OldestReadableFormatVersion} to {FormatVersion}{(manifest.FormatVersion > FormatVersion ? " (it was written by a newer release)" : string.Empty)}.");
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

        string dataEntry = manifest.FormatVersion == 1 ? FormatVersion1.VocabulariesEntry : DataEntry;
        foreach (var required in new[] { OptionsEntry, dataEntry, WeightsEntry })
        {
            if (!manifest.Entries.ContainsKey(required))
            {
                throw new CheckpointException(path, $"it has no {required}.");
            }
        }

        return new Contents(path, manifest, entries, sha256);
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

    /// <summary>A checkpoint read once and verified: its manifest, every entry's bytes and the file's SHA-256 (lower-case hex).</summary>
    internal sealed record Contents(string Path, CheckpointManifest Manifest, Dictionary<string, byte[]> Entries, string Sha256)
    {
        /// <summary>The format version it was written in.</summary>
        public int Version => Manifest.FormatVersion;
    }

    private static T Deserialize<T>(string path, Dictionary<string, byte[]> entries, string name)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(entries[name], Json) ?? throw new CheckpointException(path, $"entry '{name}' is empty.");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException or ArgumentException)
        {
            throw new CheckpointException(path, $"entry '{name}' is unreadable ({Excerpt(e.Message)}).", e);
        }
    }
}
