using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using Dien.Model;
using TorchSharp;
using static Dien.Checkpoints.CheckpointFormat;
using static TorchSharp.torch;

namespace Dien.Checkpoints;

/// <summary>
/// Writes a checkpoint file atomically: the entries are serialised in memory, written to a temporary file in the same
/// folder that stays locked until it is renamed over the target, flushed, renamed, and the folder flushed; the
/// temporaries that interrupted saves of the same file left behind are removed first.
/// </summary>
internal static class CheckpointWriter
{
    /// <summary>Writes <paramref name="model"/>'s checkpoint to <paramref name="path"/>, with the training state and optimizer when given.</summary>
    /// <exception cref="ArgumentException"><paramref name="data"/> does not fit the model.</exception>
    public static void Write(
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
            FormatVersion = Checkpoint.FormatVersion,
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
                    WriteEntry(zip, ManifestEntry, JsonSerializer.SerializeToUtf8Bytes(manifest, Json));
                    foreach (var (name, bytes) in entries)
                    {
                        WriteEntry(zip, name, bytes);
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

    private static void WriteEntry(ZipArchive zip, string name, byte[] bytes)
    {
        using var stream = zip.CreateEntry(name, CompressionLevel.Fastest).Open();
        stream.Write(bytes);
    }
}
