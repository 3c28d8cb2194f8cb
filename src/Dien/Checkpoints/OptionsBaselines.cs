using System.Text.Json.Nodes;
using Dien.Model;

namespace Dien.Checkpoints;

/// <summary>
/// For every format version, the value each <see cref="CtrModelOptions"/> property had in the release that wrote it, so
/// that a property absent from an older <c>options.json</c> takes the value that built the model then, not today's
/// default (a changed default must never change an old model). Recorded as text here, never computed from
/// <see cref="CtrModelOptions"/>.
/// </summary>
/// <remarks>
/// When a property is added to <see cref="CtrModelOptions"/>, add it to every version's table below with the value that
/// reproduces that release's model (usually "off"); when the format version is raised, add its table.
/// <c>OptionsBaselineTests</c> fails while any property is missing from any table.
/// </remarks>
internal static class OptionsBaselines
{
    // Format version 1 (releases up to 2026-12-05): every property below, as written by new CtrModelOptions().
    private const string Version1 = """
        {
          "ItemVocabularySize": 0, "CategoryVocabularySize": 0, "UserVocabularySize": 0, "ExtraFieldVocabularySizes": [],
          "ItemEmbeddingSize": 18, "CategoryEmbeddingSize": 18, "UserEmbeddingSize": 18, "ItemMaxNorm": null,
          "EmbeddingInit": "Normal", "EmbeddingInitScale": 0.01, "EmbeddingL2": 0, "UseUserField": false,
          "HeadSumTerms": true, "HiddenSize": 36, "Evolution": "Augru", "Attention": "Mlp",
          "AttentionNormalization": "Softmax", "AttentionHiddenSizes": [80, 40], "AuxiliaryLoss": "NextBehaviour",
          "AuxiliaryScorer": "Mlp", "AuxiliaryHiddenSizes": [100, 50], "Alpha": 0, "HeadHiddenSizes": [200, 80],
          "HeadActivation": "PRelu", "HeadBatchNorm": true, "HeadDropout": 0, "HeadOutput": "Sigmoid",
          "UseFusedKernels": true
        }
        """;

    // Format version 2 (from 2026-12-05) changed the layout (data.json) and one value: Alpha defaults to 1, the
    // paper's weight, again. Each later version lists only what its release changed against the one before.
    private static readonly Dictionary<int, (int Base, string Changes)> Tables = new()
    {
        [1] = (0, Version1),
        [2] = (1, """{ "Alpha": 1 }"""),
    };

    /// <summary>The versions with a table.</summary>
    public static IEnumerable<int> Versions => Tables.Keys;

    /// <summary>The values of format version <paramref name="version"/>'s release, property by property.</summary>
    public static JsonObject For(int version)
    {
        var (baseVersion, changes) = Tables.TryGetValue(version, out var table)
            ? table
            : throw new ArgumentOutOfRangeException(nameof(version), version, "No options table for this format version.");
        var values = baseVersion == 0 ? new JsonObject() : For(baseVersion);
        foreach (var (name, value) in JsonNode.Parse(changes)!.AsObject())
        {
            values[name] = value?.DeepClone();
        }

        return values;
    }
}
