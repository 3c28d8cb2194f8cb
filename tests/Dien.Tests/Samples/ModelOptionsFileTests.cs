using System.Text.Json;
using Dien.Checkpoints;
using Dien.Evolution;
using Dien.Model;
using Dien.Tests.Data;
using Dien.Train;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Samples;

/// <summary>
/// The training sample's <c>--options</c> file reads the options JSON of both runtimes (a .NET checkpoint's
/// options.json, the Python trainer's file), so that the two train the same layers, and names a bad file's problem.
/// </summary>
public sealed class ModelOptionsFileTests
{
    [Fact]
    public void ACheckpointsOptionsJsonReadsBackByValue()
    {
        var written = new CtrModelOptions
        {
            ItemVocabularySize = 50, CategoryVocabularySize = 5, ItemEmbeddingSize = 8, CategoryEmbeddingSize = 8, HiddenSize = 16,
            AttentionHiddenSizes = [16], AuxiliaryHiddenSizes = [16], HeadHiddenSizes = [32, 16], Alpha = 0.5, Evolution = EvolutionVariant.Agru,
            ItemMaxNorm = 2.5,
        };
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "options.json");
        File.WriteAllText(path, JsonSerializer.Serialize(written, CheckpointFormat.Json)); // as a checkpoint stores it, BehaviourSize included

        var read = ModelOptionsFile.Read(path);

        CheckpointReader.OptionDifferences(read, written).Should().BeEmpty();
    }

    [Fact]
    public void ThePythonTrainersOptionsJsonReads()
    {
        // As python/dien/options.py's to_json writes it: floats with a point, null for an unset norm, enum names.
        const string python = """
            { "ItemVocabularySize": 0, "CategoryVocabularySize": 0, "UserVocabularySize": 0, "ExtraFieldVocabularySizes": [],
              "ItemEmbeddingSize": 8, "CategoryEmbeddingSize": 8, "UserEmbeddingSize": 18, "ItemMaxNorm": null, "EmbeddingInit": "Normal",
              "EmbeddingInitScale": 0.01, "EmbeddingL2": 0.0, "UseUserField": false, "HeadSumTerms": true, "HiddenSize": 16,
              "Evolution": "Augru", "Attention": "Mlp", "AttentionNormalization": "Softmax", "AttentionHiddenSizes": [16],
              "AuxiliaryLoss": "NextBehaviour", "AuxiliaryScorer": "Mlp", "AuxiliaryHiddenSizes": [16], "Alpha": 1.0,
              "HeadHiddenSizes": [32, 16], "HeadActivation": "PRelu", "HeadBatchNorm": true, "HeadDropout": 0.0,
              "HeadOutput": "Sigmoid", "UseFusedKernels": true }
            """;
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "narrow.json");
        File.WriteAllText(path, python);

        var read = ModelOptionsFile.Read(path);

        read.ItemEmbeddingSize.Should().Be(8);
        read.HiddenSize.Should().Be(16);
        read.HeadHiddenSizes.Should().Equal(32, 16);
        read.ItemMaxNorm.Should().BeNull();
        read.Alpha.Should().Be(1.0);
    }

    [Theory]
    [InlineData("""{ "HiddenSise": 16 }""", "HiddenSise")]
    [InlineData("""{ "Evolution": "Lstm" }""", "$.Evolution")]
    [InlineData("""{ "HiddenSize": "wide" }""", "$.HiddenSize")]
    [InlineData("not json", "not a CtrModelOptions JSON")]
    public void ABadFileIsAnErrorNamingTheFileAndTheProblem(string text, string named)
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "options.json");
        File.WriteAllText(path, text);

        var act = () => ModelOptionsFile.Read(path);

        act.Should().Throw<ArgumentException>().Which.Message.Should().Contain($"--options {path}").And.Contain(named);
    }
}
