using System.Diagnostics;
using System.Text.Json;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Build;

/// <summary>
/// The backend is a build switch: CPU by default, TorchSharp-cuda-linux only with -p:DienCuda=true.
/// Checked by evaluating the projects (no restore, nothing downloaded).
/// </summary>
public sealed class BackendSwitchTests
{
    private static string RepoRoot => RepoPaths.Root;

    [Theory]
    [InlineData(null, "TorchSharp-cpu")]
    [InlineData("false", "TorchSharp-cpu")]
    [InlineData("true", "TorchSharp-cuda-linux")]
    public void TestsAndSamplesReferenceTheChosenBackendOnly(string? dienCuda, string expected)
    {
        foreach (string project in new[] { "tests/Dien.Tests/Dien.Tests.csproj", "samples/Dien.Train/Dien.Train.csproj" })
        {
            var references = PackageReferences(project, dienCuda);

            references.Should().Contain(expected, $"{project} with DienCuda={dienCuda ?? "(unset)"}");
            references.Should().NotContain(expected == "TorchSharp-cpu" ? "TorchSharp-cuda-linux" : "TorchSharp-cpu");
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("true")]
    public void LibraryReferencesManagedTorchSharpOnly(string? dienCuda)
    {
        var references = PackageReferences("src/Dien/Dien.csproj", dienCuda);

        references.Should().Contain("TorchSharp");
        references.Should().NotContain(r => r.StartsWith("TorchSharp-", StringComparison.Ordinal) || r.StartsWith("libtorch", StringComparison.Ordinal),
            "the application chooses the native backend");
    }

    private static List<string> PackageReferences(string project, string? dienCuda)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = RepoRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string arg in new[] { "msbuild", project, "-getItem:PackageReference", "-nologo" })
        {
            start.ArgumentList.Add(arg);
        }

        if (dienCuda is not null)
        {
            start.ArgumentList.Add($"-p:DienCuda={dienCuda}");
        }

        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        process.ExitCode.Should().Be(0, $"dotnet msbuild {project} failed: {error}{output}");

        using var json = JsonDocument.Parse(output);
        return json.RootElement.GetProperty("Items").GetProperty("PackageReference").EnumerateArray()
            .Select(item => item.GetProperty("Identity").GetString()!)
            .ToList();
    }
}
