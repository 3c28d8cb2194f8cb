using Dien.Data.Converters;

namespace Dien.Data.Events;

/// <summary>Reads an event log, one file or a folder of part files (Parquet, CSV, TSV), into an <see cref="EventTable"/>.</summary>
internal static class EventLogReader
{
    /// <summary>The extensions read from a folder; any other file there is left alone.</summary>
    public static readonly string[] Extensions = [".parquet", ".csv", ".tsv", ".tab"];

    /// <summary>The files of <paramref name="path"/>: itself, or a folder's part files in ordinal order (subfolders too, as Spark writes them).</summary>
    /// <exception cref="FileNotFoundException">No such file or folder, or a folder without part files.</exception>
    public static IReadOnlyList<string> Files(string path)
    {
        if (File.Exists(path))
        {
            return [path];
        }

        if (!Directory.Exists(path))
        {
            throw new FileNotFoundException($"event log {path}: no such file or folder.", path);
        }

        var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
            .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()) && !Path.GetFileName(f).StartsWith('.') && !Path.GetFileName(f).StartsWith('_'))
            .Order(StringComparer.Ordinal)
            .ToList();
        return files.Count > 0
            ? files
            : throw new FileNotFoundException($"event log {path}: the folder holds no part file ({string.Join(", ", Extensions)}).", path);
    }

    /// <summary>Reads every file of <paramref name="path"/> into one table (the caller disposes it: it may hold a temporary file).</summary>
    /// <param name="path">A file or a folder of part files.</param>
    /// <param name="columns">The mapping.</param>
    /// <param name="bad">Bad rows seen and skipped.</param>
    /// <param name="chunkBits">Events per chunk of the table, as a power of 2.</param>
    /// <param name="memoryChunks">Chunks held in memory before they are spilled.</param>
    public static EventTable Read(string path, EventColumns columns, ConverterSupport.BadLines bad, int chunkBits = EventTable.DefaultChunkBits, int memoryChunks = EventTable.DefaultMemoryChunks)
    {
        var table = new EventTable(columns, chunkBits, memoryChunks);
        try
        {
            foreach (string file in Files(path))
            {
                bad.Path = file;
                table.Files.Add(file);
                if (Path.GetExtension(file).Equals(".parquet", StringComparison.OrdinalIgnoreCase))
                {
                    ParquetEventSource.Read(file, table, bad);
                }
                else
                {
                    CsvEventSource.Read(file, table, bad);
                }
            }

            return table;
        }
        catch
        {
            table.Dispose();
            throw;
        }
    }
}
