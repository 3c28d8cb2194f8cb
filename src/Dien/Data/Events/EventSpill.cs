using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Dien.Data.Events;

/// <summary>
/// A temporary file of an <see cref="EventTable"/>'s full chunks, written when the table holds its memory budget of
/// events, so that a read holds a fixed number of events whatever the log's length. A chunk is its five columns one
/// after another (time, user, item, category, role: 25 bytes per event), at a fixed offset, read back in place.
/// </summary>
internal sealed class EventSpill : IDisposable
{
    /// <summary>Bytes per event in the file.</summary>
    public const int EventBytes = sizeof(long) + (3 * sizeof(int)) + sizeof(byte);

    private readonly int _chunkSize;
    private readonly SafeFileHandle _file;

    public EventSpill(int chunkSize)
    {
        _chunkSize = chunkSize;
        Path = TemporaryFile("events");
        _file = File.OpenHandle(Path, FileMode.Create, FileAccess.ReadWrite, FileShare.None, FileOptions.DeleteOnClose);
    }

    /// <summary>The file (under the system's temporary folder: <c>TMPDIR</c> on Linux).</summary>
    public string Path { get; }

    /// <summary>Full chunks written.</summary>
    public long Chunks { get; private set; }

    /// <summary>A new file name in the temporary folder for <paramref name="what"/>.</summary>
    public static string TemporaryFile(string what) =>
        System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"dien-{what}-{Environment.ProcessId}-{Guid.NewGuid():N}.bin");

    /// <summary>Appends one full chunk.</summary>
    public void Append(long[] times, int[] users, int[] items, int[] categories, EventTable.Role[] roles)
    {
        long at = Chunks * _chunkSize * (long)EventBytes;
        RandomAccess.Write(_file, MemoryMarshal.AsBytes(times.AsSpan()), at);
        at += _chunkSize * (long)sizeof(long);
        foreach (var column in new[] { users, items, categories })
        {
            RandomAccess.Write(_file, MemoryMarshal.AsBytes(column.AsSpan()), at);
            at += _chunkSize * (long)sizeof(int);
        }

        RandomAccess.Write(_file, MemoryMarshal.AsBytes(roles.AsSpan()), at);
        Chunks++;
    }

    /// <summary>Reads chunk <paramref name="chunk"/> back into the arrays given (each one chunk long).</summary>
    public void Read(long chunk, long[] times, int[] users, int[] items, int[] categories, EventTable.Role[] roles)
    {
        ReadTimes(chunk, times);
        long at = (chunk * _chunkSize * (long)EventBytes) + (_chunkSize * (long)sizeof(long));
        foreach (var column in new[] { users, items, categories })
        {
            ReadExactly(MemoryMarshal.AsBytes(column.AsSpan()), at);
            at += _chunkSize * (long)sizeof(int);
        }

        ReadExactly(MemoryMarshal.AsBytes(roles.AsSpan()), at);
    }

    /// <summary>Reads the time column of chunk <paramref name="chunk"/>.</summary>
    public void ReadTimes(long chunk, long[] times) => ReadExactly(MemoryMarshal.AsBytes(times.AsSpan()), chunk * _chunkSize * (long)EventBytes);

    /// <inheritdoc/>
    public void Dispose() => _file.Dispose();

    private void ReadExactly(Span<byte> into, long at)
    {
        while (into.Length > 0)
        {
            int read = RandomAccess.Read(_file, into, at);
            if (read == 0)
            {
                throw new IOException($"{Path}: the spilled events end early at byte {at}.");
            }

            into = into[read..];
            at += read;
        }
    }
}
