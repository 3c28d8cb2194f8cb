using Dien.Checkpoints;
using System.Text.RegularExpressions;
using Dien.Attention;
using Dien.Auxiliary;
using Dien.Head;
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

    /// <summary>
    /// DienModel's state-dict keys, in order, for the option sets that add or drop entries: the PyTorch twin
    /// (python/dien/models.py) loads by these names, so a renamed module field must keep its key.
    /// </summary>
    [Theory]
    [MemberData(nameof(DienVariants))]
    public void DienModelKeysAreThePyTorchNames(string variant, string[] expected)
    {
        var options = DocumentedOptions();
        options.Alpha = 1;
        switch (variant)
        {
            case "defaults":
                options.Alpha = 0;
                break;
            case "user-extras":
                options.UseUserField = true;
                options.ExtraFieldVocabularySizes = new List<long> { 4, 7 };
                break;
            case "labelled-history":
                options.AuxiliaryLoss = AuxiliaryLossForm.LabelledHistory;
                break;
            case "bilinear-dice":
                options.Attention = AttentionForm.Bilinear;
                options.HeadActivation = HeadActivation.Dice;
                break;
        }

        using var model = new DienModel(options);

        model.state_dict().Keys.Should().Equal(expected);
    }

    public static TheoryData<string, string[]> DienVariants()
    {
        string[] embedding = ["embedding.items.weight", "embedding.categories.weight"];
        string[] extractor = ["extractor.gru.weight_ih_l0", "extractor.gru.weight_hh_l0", "extractor.gru.bias_ih_l0", "extractor.gru.bias_hh_l0"];
        string[] mlpAttention =
        [
            "attention.query.weight", "attention.query.bias", "attention.layers.0.weight", "attention.layers.0.bias",
            "attention.layers.1.weight", "attention.layers.1.bias", "attention.score.weight", "attention.score.bias",
        ];
        string[] evolution = ["evolution.weight_ih", "evolution.weight_hh", "evolution.bias_ih", "evolution.bias_hh"];
        string[] auxiliary =
        [
            "auxiliary.layers.0.weight", "auxiliary.layers.0.bias", "auxiliary.layers.1.weight", "auxiliary.layers.1.bias",
            "auxiliary.output.weight", "auxiliary.output.bias",
        ];
        string[] headLayers =
        [
            "head.norm.weight", "head.norm.bias", "head.layers.0.weight", "head.layers.0.bias", "head.layers.1.weight", "head.layers.1.bias",
        ];
        string[] prelu = ["head.activations.0.weight", "head.activations.1.weight"];
        string[] output = ["head.output.weight", "head.output.bias"];
        string[] headBuffers = ["head.norm.running_mean", "head.norm.running_var", "head.norm.num_batches_tracked"];
        string[] diceBuffers =
        [
            "head.activations.0.norm.running_mean", "head.activations.0.norm.running_var", "head.activations.0.norm.num_batches_tracked",
            "head.activations.1.norm.running_mean", "head.activations.1.norm.running_var", "head.activations.1.norm.num_batches_tracked",
        ];
        string[] withUser = ["embedding.items.weight", "embedding.categories.weight", "embedding.user.weight", "embedding.extras.0.weight", "embedding.extras.1.weight"];
        string[] PReLUHead() => [.. headLayers, .. prelu, .. output, .. headBuffers];

        return new()
        {
            { "defaults", [.. embedding, .. extractor, .. mlpAttention, .. evolution, .. PReLUHead()] },
            { "user-extras", [.. withUser, .. extractor, .. mlpAttention, .. evolution, .. auxiliary, .. PReLUHead()] },
            { "labelled-history", [.. embedding, .. extractor, .. mlpAttention, .. evolution, .. PReLUHead()] },
            {
                "bilinear-dice",
                [
                    .. embedding, .. extractor, "attention.weight", .. evolution, .. auxiliary, .. headLayers,
                    "head.activations.0.alpha", "head.activations.1.alpha", .. output, .. headBuffers, .. diceBuffers,
                ]
            },
        };
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
