using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Dien.Tests.Docs;

/// <summary>
/// The README's C# example, taken from the README text itself and compiled with Roslyn against this build of the
/// library, so that the README cannot drift from what compiles and runs.
/// </summary>
internal static class ReadmeExample
{
    /// <summary>The heading of the README section whose first C# block is the example.</summary>
    public const string Section = "## Using it from C#";

    // What a new console project's implicit usings give the user's Program.cs (dotnet new console).
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    /// <summary>The repository's README.md, found from this assembly's folder upwards.</summary>
    public static string FindReadme()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            string candidate = Path.Combine(folder.FullName, "README.md");
            if (File.Exists(candidate) && File.Exists(Path.Combine(folder.FullName, "Dien.sln")))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"README.md beside Dien.sln, above {AppContext.BaseDirectory}");
    }

    /// <summary>The first <c>```csharp</c> block after <see cref="Section"/>.</summary>
    /// <exception cref="InvalidDataException">The section or its block is missing.</exception>
    public static string Extract(string readmeText)
    {
        var lines = readmeText.ReplaceLineEndings("\n").Split('\n');
        int section = Array.FindIndex(lines, l => l.TrimEnd() == Section);
        if (section < 0)
        {
            throw new InvalidDataException($"the README has no '{Section}' section");
        }

        int start = Array.FindIndex(lines, section, l => l.TrimEnd() == "```csharp");
        int end = start < 0 ? -1 : Array.FindIndex(lines, start + 1, l => l.TrimEnd() == "```");
        if (start < 0 || end < 0)
        {
            throw new InvalidDataException($"the README's '{Section}' section has no complete ```csharp block");
        }

        return string.Join('\n', lines[(start + 1)..end]);
    }

    /// <summary>Compiles <paramref name="code"/> (top-level statements) as a console program against this build's assemblies.</summary>
    /// <exception cref="InvalidOperationException">It does not compile; the message lists every error with its line.</exception>
    public static Assembly Compile(string code)
    {
        var trees = new[] { CSharpSyntaxTree.ParseText(ImplicitUsings, path: "Usings.cs"), CSharpSyntaxTree.ParseText(code, path: "README.md#example") };
        string platform = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
        var references = platform.Split(Path.PathSeparator)
            .Concat(Directory.GetFiles(AppContext.BaseDirectory, "*.dll"))
            .Where(IsManaged)
            .DistinctBy(Path.GetFileName)
            .Select(path => MetadataReference.CreateFromFile(path));
        var compilation = CSharpCompilation.Create(
            "ReadmeExample", trees, references, new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        using var image = new MemoryStream();
        var emitted = compilation.Emit(image);
        if (!emitted.Success)
        {
            var errors = emitted.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString());
            throw new InvalidOperationException("the README's example does not compile:\n" + string.Join('\n', errors));
        }

        image.Position = 0;
        return AssemblyLoadContext.Default.LoadFromStream(image);
    }

    /// <summary>Compiles the README's example and runs it in this process, in <paramref name="folder"/>; returns its exit code.</summary>
    public static int Run(string readmePath, string folder)
    {
        var entry = Compile(Extract(File.ReadAllText(readmePath))).EntryPoint
            ?? throw new InvalidOperationException("the README's example has no entry point");
        Directory.SetCurrentDirectory(folder);
        object? exit = entry.Invoke(null, entry.GetParameters().Length == 0 ? null : [Array.Empty<string>()]);
        return exit is int code ? code : 0;
    }

    private static bool IsManaged(string path)
    {
        try
        {
            AssemblyName.GetAssemblyName(path);
            return true;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }
}
