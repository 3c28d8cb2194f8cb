using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dien.Model;
using static Dien.Checkpoints.CheckpointFormat;

namespace Dien.Checkpoints;

/// <summary>
/// Reads a checkpoint file: opens it once, verifies it whole (CRC-32, manifest, sizes, SHA-256, format version), and
/// turns its entries into typed values (options by value with older versions' baselines, the data contract, the
/// training state). Nothing here touches a model; <see cref="CheckpointLoader"/> does.
/// </summary>
internal static class CheckpointReader
{
    /// <summary>The typed contents of a verified read (older format versions migrated).</summary>
    public static CheckpointContents ContentsOf(VerifiedCheckpoint contents)
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
            throw new CheckpointException(contents.Path, $"entry '{DataEntryOf(contents.Version)}' is unreadable ({Excerpt(e.Message)}).", e);
        }

        var problems = data.Validate(options);
        if (problems.Count > 0)
        {
            throw new CheckpointException(contents.Path, $"entry '{DataEntryOf(contents.Version)}' does not fit the model's options: {string.Join(" ", problems)}");
        }

        return new CheckpointContents(contents.Path, contents.Version, contents.Manifest.ModelKind, options, data, contents.Sha256);
    }

    /// <summary>
    /// The stored options, by value: read from options.json, with every property the file lacks taken from the table of
    /// its format version (<see cref="OptionsBaselines"/>), not from today's defaults.
    /// </summary>
    public static CtrModelOptions OptionsOf(VerifiedCheckpoint contents)
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

        var unknown = stored.Select(p => p.Key).Where(k => !OptionNames.Contains(k) && k != nameof(CtrModelOptions.BehaviourSize)).ToList();
        if (unknown.Count > 0)
        {
            throw new CheckpointException(path, $"entry '{OptionsEntry}' sets {string.Join(", ", unknown.Select(Data.Quote.Of))}, not options of this release (format version {Checkpoint.FormatVersion}).");
        }

        stored.Remove(nameof(CtrModelOptions.BehaviourSize)); // derived
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
            return stored.Deserialize<CtrModelOptions>(Json) ?? throw new JsonException("the entry is null");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException or ArgumentException)
        {
            throw new CheckpointException(path, $"entry '{OptionsEntry}' is unreadable ({Excerpt(e.Message)}).", e);
        }
    }

    /// <summary>One sentence per option whose value differs (name, value in the file, value in the model); empty when none.</summary>
    public static List<string> OptionDifferences(CtrModelOptions stored, CtrModelOptions current)
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
    public static TrainingState? TrainingStateOf(VerifiedCheckpoint contents)
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

    /// <summary>
    /// Reads the file once into memory and verifies it: every entry's CRC-32 against the zip directory (so damage to any
    /// entry, the manifest included, is caught), the manifest's format version, model kind and entry table, and every
    /// listed entry's size and SHA-256.
    /// </summary>
    public static VerifiedCheckpoint Open(string path)
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

    private static VerifiedCheckpoint Verify(string path, byte[] file, string sha256)
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

        if (manifest.FormatVersion is < Checkpoint.OldestReadableFormatVersion or > Checkpoint.FormatVersion)
        {
            throw new CheckpointException(path,
                $"its format version is {manifest.FormatVersion}; this library reads versions {Checkpoint.OldestReadableFormatVersion} to {Checkpoint.FormatVersion}{(manifest.FormatVersion > Checkpoint.FormatVersion ? " (it was written by a newer release)" : string.Empty)}.");
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

        string dataEntry = DataEntryOf(manifest.FormatVersion);
        foreach (var required in new[] { OptionsEntry, dataEntry, WeightsEntry })
        {
            if (!manifest.Entries.ContainsKey(required))
            {
                throw new CheckpointException(path, $"it has no {required}.");
            }
        }

        return new VerifiedCheckpoint(path, manifest, entries, sha256);
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
