namespace Dien.Tests.Data;

/// <summary>Temporary folders and the shared real data location for data tests.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dien-data-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name, string content)
    {
        string path = System.IO.Path.Combine(Path, name);
        System.IO.File.WriteAllText(path, content);
        return path;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

internal static class SharedData
{
    /// <summary>The shared data folder, or null (with the reason) when it is absent.</summary>
    public static string? Folder(string name, out string reason)
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Dien.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        if (dir is null)
        {
            reason = "repository root (Dien.sln) not found above " + AppContext.BaseDirectory;
            return null;
        }

        string folder = Path.Combine(dir, "..", "shared", "data", name);
        reason = $"real data folder {folder} is absent; this test ran on nothing";
        return Directory.Exists(folder) ? folder : null;
    }
}
