using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace Dien.Tests.Checkpoints;

/// <summary>Edits of checkpoint files that keep them internally consistent, for the tests of what a reader refuses.</summary>
internal static class CheckpointFiles
{
    /// <summary>
    /// Rewrites a checkpoint with its entries changed by <paramref name="change"/> and the manifest's table of sizes and
    /// hashes made to match: a consistent file with other contents (optionally another format version).
    /// </summary>
    public static void Rewrite(string path, Action<Dictionary<string, byte[]>> change, int? formatVersion = null)
    {
        var entries = new Dictionary<string, byte[]>();
        using (var zip = ZipFile.OpenRead(path))
        {
            foreach (var e in zip.Entries)
            {
                using var s = e.Open();
                using var m = new MemoryStream();
                s.CopyTo(m);
                entries[e.FullName] = m.ToArray();
            }
        }

        var manifest = JsonNode.Parse(entries["manifest.json"])!;
        entries.Remove("manifest.json");
        change(entries);
        var table = new JsonObject();
        foreach (var (name, bytes) in entries)
        {
            table[name] = new JsonObject { ["Size"] = bytes.LongLength, ["Sha256"] = Convert.ToHexString(SHA256.HashData(bytes)) };
        }

        manifest["Entries"] = table;
        if (formatVersion is { } version)
        {
            manifest["FormatVersion"] = version;
        }

        File.Delete(path);
        using var output = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, content) in entries.Prepend(new("manifest.json", System.Text.Encoding.UTF8.GetBytes(manifest.ToJsonString()))))
        {
            using var s = output.CreateEntry(name).Open();
            s.Write(content);
        }
    }
}
