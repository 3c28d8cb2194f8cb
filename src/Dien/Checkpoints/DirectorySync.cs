using System.Runtime.InteropServices;

namespace Dien.Checkpoints;

/// <summary>Flushes a folder's entries (a rename into it) to disk: fsync of the folder on Linux and macOS.</summary>
internal static partial class DirectorySync
{
    private const int ReadOnly = 0; // O_RDONLY

    /// <summary>
    /// Best effort: some file systems refuse fsync on a folder, and the file is already in place by then, so a
    /// failure here is not reported. Windows makes the rename durable through the file system's journal.
    /// </summary>
    public static void Flush(string folder)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return;
        }

        int fd = Open(folder, ReadOnly);
        if (fd < 0)
        {
            return;
        }

        try
        {
            _ = FSync(fd);
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync")]
    private static partial int FSync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
