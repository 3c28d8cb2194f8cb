using Dien.Checkpoints;
using System.Text.RegularExpressions;
using Dien.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;

namespace Dien.Tests.Model;

/// <summary>
/// The state-dict keys are the interchange format (checkpoints, PyTorch export): docs/state-dict.md lists
/// them, and this test fails when a model's keys or shapes change without the document.
/// </summary>
[Collection("Sequential")]
public sealed partial class StateDictTests
{
    public static TheoryData<string> Models => new() { "DienModel", "BaseModel", "DinModel" };

    [Theory]
    [MemberData(nameof(Models))]
    public void KeysAndShapesMatchTheDocument(string kind)
    {
        using var model = Build(kind, DocumentedOptions());
        var actual = model.state_dict().ToDictionary(p => p.Key, p => string.Join(", ", p.Value.shape));

        var documented = Documented(kind);

        actual.Should().BeEquivalentTo(documented,
            $"docs/state-dict.md must list every state-dict entry of {kind}; update it with the model. Actual:\n{string.Join("\n", actual.Select(p => $"| `{p.Key}` | [{p.Value}] |"))}");
    }

    /// <summary>The options the document is written for: the defaults, with the vocabulary sizes it names and alpha 1 (so that DIEN has its auxiliary scorer).</summary>
    internal static CtrModelOptions DocumentedOptions() => new()
    {
        ItemVocabularySize = 1000,
        CategoryVocabularySize = 50,
        UserVocabularySize = 500,
        Alpha = 1,
    };

    internal static CtrModel Build(string kind, CtrModelOptions options) => ModelKinds.Create(kind, options);

    private static Dictionary<string, string> Documented(string kind)
    {
        string path = Path.Combine(RepoPaths.Root, "docs", "state-dict.md");
        var rows = new Dictionary<string, string>();
        string? section = null;
        foreach (string line in File.ReadLines(path))
        {
            var heading = Heading().Match(line);
            if (heading.Success)
            {
                section = heading.Groups[1].Value;
                continue;
            }

            var row = Row().Match(line);
            if (section == kind && row.Success)
            {
                rows[row.Groups[1].Value] = row.Groups[2].Value;
            }
        }

        return rows;
    }

    [GeneratedRegex(@"^##\s+(\w+)")]
    private static partial Regex Heading();

    [GeneratedRegex(@"^\|\s*`([^`]+)`\s*\|\s*\[([^\]]*)\]\s*\|")]
    private static partial Regex Row();
}
