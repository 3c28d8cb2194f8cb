using System.Globalization;
using System.Text.RegularExpressions;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Docs;

/// <summary>
/// The README's "Using it from C#" example, compiled from the README text and run as a program of its own
/// (a child process of this assembly, in a temporary folder), so the README shows code that compiles and works.
/// </summary>
[Collection("Sequential")]
public sealed partial class ReadmeExampleTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("dien-readme-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task The_readme_example_compiles_trains_saves_and_scores()
    {
        var (exitCode, stdout, stderr) = await ChildProcess.RunAsync("readme", ReadmeExample.FindReadme(), _folder);
        exitCode.Should().Be(0, $"the example runs to its end (stdout: {stdout}; stderr: {stderr})");
        var summary = Summary().Match(stdout);
        summary.Success.Should().BeTrue($"the example prints its summary line (stdout: {stdout})");
        double validation = double.Parse(summary.Groups["validation"].Value, CultureInfo.InvariantCulture);
        double test = double.Parse(summary.Groups["test"].Value, CultureInfo.InvariantCulture);
        validation.Should().BeGreaterThan(0.6, "DIEN learns the synthetic workload's evolving interests");
        test.Should().BeGreaterThan(0.6, "the chosen epoch holds on the test users");

        var scores = Scores().Match(stdout);
        scores.Success.Should().BeTrue($"the example prints its scores (stdout: {stdout})");
        var values = scores.Groups["values"].Value.Split(", ").Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        values.Should().HaveCount(2).And.OnlyContain(x => x > 0 && x < 1);
        File.Exists(Path.Combine(_folder, "best.dien")).Should().BeTrue("the trainer writes the best checkpoint where the README says");
    }

    [Fact]
    public void A_readme_without_the_section_is_reported_by_name()
    {
        var act = () => ReadmeExample.Extract("# Title\n\n## Other\n```csharp\nint x = 1;\n```\n");
        act.Should().Throw<InvalidDataException>().WithMessage("*'## Using it from C#'*");
    }

    [Fact]
    public void Code_that_does_not_compile_is_reported_with_its_error()
    {
        var act = () => ReadmeExample.Compile("var model = new Dien.Model.NoSuchModel();");
        act.Should().Throw<InvalidOperationException>().WithMessage("*NoSuchModel*");
    }

    [GeneratedRegex(@"epoch (?<epoch>\d+): validation AUC (?<validation>[0-9.]+), test AUC (?<test>[0-9.]+)")]
    private static partial Regex Summary();

    [GeneratedRegex(@"scores: (?<values>[-0-9.eE]+(, [-0-9.eE]+)*)")]
    private static partial Regex Scores();
}
