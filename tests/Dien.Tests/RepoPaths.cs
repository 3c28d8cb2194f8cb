namespace Dien.Tests;

/// <summary>Where the repository and the shared data sets are, seen from the test binaries.</summary>
internal static class RepoPaths
{
    /// <summary>The folder that holds Dien.sln.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The small real data sets beside the checkout (../shared/data); absent in a clone of the project alone.</summary>
    public static string SharedData => Path.GetFullPath(Path.Combine(Root, "..", "shared", "data"));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Dien.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Dien.sln above {AppContext.BaseDirectory}.");
    }
}
