using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dien.Checkpoints;
using Dien.Data.Batching;
using Dien.Evolution;
using Dien.Head;
using Dien.Inference;
using Dien.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Interop;

/// <summary>
/// <c>.dien</c> checkpoints both ways: a .NET checkpoint converted to PyTorch and back is the same, entry by entry;
/// one trained on in Python, or built there from scratch, is served by <see cref="CtrPredictor"/> with the
/// scores Python computes; and the converter refuses a model whose options or vocabularies disagree.
/// </summary>
[Collection("Sequential")]
public sealed class CheckpointInteropTests
{
    private static readonly CheckpointData Data = new()
    {
        Items = Enumerable.Range(1, 29).ToDictionary(i => $"B00{i:D4}", i => (long)i),
        Categories = new Dictionary<string, long> { ["Makeup"] = 1, ["Hair <Care> & 'Styling'"] = 2, ["Crème+\"Soin\"\t"] = 3, ["香水"] = 4, ["😀"] = 5 },
        Users = new Dictionary<string, long> { ["A1"] = 1, ["A2"] = 8 },
        ItemCategories = Enumerable.Range(1, 29).ToDictionary(i => (long)i, i => (long)(1 + (i % 5))),
        MaxHistoryLength = 40,
    };

    private static void ShouldEqual(CheckpointData actual, CheckpointData expected)
    {
        actual.Items.Should().BeEquivalentTo(expected.Items);
        actual.Categories.Should().BeEquivalentTo(expected.Categories);
        actual.Users.Should().BeEquivalentTo(expected.Users);
        actual.ItemCategories.Should().BeEquivalentTo(expected.ItemCategories);
        actual.MaxHistoryLength.Should().Be(expected.MaxHistoryLength);
    }

    private static CtrModelOptions Options() => ParityTests.Small(o => { o.ExtraFieldVocabularySizes = new List<long> { 4 }; o.ItemMaxNorm = 2; o.EmbeddingL2 = 1e-6; });

    private static (string Path, BatchArrays Batch) DotNetCheckpoint(string folder)
    {
        torch.manual_seed(3);
        var options = Options();
        var batch = ParityTests.FixedBatch(options);
        using var model = new DienModel(options);
        using var optimizer = optim.Adam(model.parameters(), lr: 1e-2);
        model.train();
        for (int step = 0; step < 3; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            using var tensors = new BehaviourBatch(batch);
            using var output = model.call(tensors);
            output.Loss!.backward();
            optimizer.step();
        }

        string path = Path.Combine(folder, "net.dien");
        Checkpoint.Save(path, model, Data);
        return (path, batch);
    }

    [SkippableFact]
    public void DotNetToPyTorchToDotNetIsTheSameModelAndData()
    {
        Skip.If(PythonSide.Unavailable is not null, PythonSide.Unavailable);
        using var folder = new TempFolder();
        var (original, batch) = DotNetCheckpoint(folder.Path);
        string pt = Path.Combine(folder.Path, "model.pt");
        string back = Path.Combine(folder.Path, "back.dien");
        PythonSide.RunModule("dien.convert", "to-pytorch", original, pt);
        PythonSide.RunModule("dien.convert", "to-dien", pt, back, "--check-against", original);

        // Python writes ordinary JSON, which .NET reads by value: the weights come back byte for byte, the rest equal in value.
        var before = Entries(original);
        var after = Entries(back);
        after.Keys.Should().BeEquivalentTo(before.Keys);
        after["weights.bin"].SequenceEqual(before["weights.bin"]).Should().BeTrue("the weights must come back byte for byte");

        using var a = CtrPredictor.Load(original);
        using var b = CtrPredictor.Load(back);
        b.Score(batch).Should().Equal(a.Score(batch));
        b.Contents!.FormatVersion.Should().Be(Checkpoint.FormatVersion);
        b.Contents.ModelKind.Should().Be(a.Contents!.ModelKind);
        CheckpointReader.OptionDifferences(b.Contents.Options, a.Contents.Options).Should().BeEmpty();
        ShouldEqual(b.Contents.Data, Data);
        using var model = Checkpoint.LoadModel(original);
        ((Action)(() => Checkpoint.LoadInto(back, model, null))).Should().NotThrow("the Python file's options equal the model's by value");
    }

    [SkippableFact]
    public void TrainingContinuesInPythonAndCtrPredictorServesTheResult()
    {
        Skip.If(PythonSide.Unavailable is not null, PythonSide.Unavailable);
        using var folder = new TempFolder();
        var (original, batch) = DotNetCheckpoint(folder.Path);
        string batchPath = Path.Combine(folder.Path, "batch.json");
        File.WriteAllText(batchPath, JsonSerializer.Serialize(batch));
        string continued = Path.Combine(folder.Path, "continued.dien");
        string scores = Path.Combine(folder.Path, "scores.json");
        PythonSide.RunScript("checkpoint_script.py", "continue", original, continued, batchPath, scores);

        var result = JsonNode.Parse(File.ReadAllText(scores))!;
        var losses = result["losses"]!.AsArray().Select(l => l!.GetValue<double>()).ToArray();
        losses[^1].Should().BeLessThan(losses[0], "training on one batch lowers its loss");
        using var predictor = CtrPredictor.Load(continued);
        var python = result["scores"]!.AsArray().Select(s => s!.GetValue<double>()).ToArray();
        var served = predictor.Score(batch);
        for (int i = 0; i < served.Length; i++)
        {
            served[i].Should().BeApproximately((float)python[i], 2e-6f, $"row {i}");
        }

        ShouldEqual(predictor.Contents!.Data, Data);
        using var before = CtrPredictor.Load(original);
        before.Score(batch).Should().NotEqual(served, "the weights moved in Python");
    }

    [SkippableFact]
    public void AModelBuiltInPythonIsServedByCtrPredictor()
    {
        Skip.If(PythonSide.Unavailable is not null, PythonSide.Unavailable);
        using var folder = new TempFolder();
        var options = new CtrModelOptions
        {
            ItemVocabularySize = 30, CategoryVocabularySize = 6, UserVocabularySize = 9, ExtraFieldVocabularySizes = new List<long> { 4 },
            ItemMaxNorm = 1.5, EmbeddingL2 = 1e-6, HeadDropout = 0.125, HeadHiddenSizes = new List<int> { 24, 12 },
            HeadActivation = HeadActivation.Dice, Evolution = EvolutionVariant.AugruAuthorsCode,
        };
        var batch = ParityTests.FixedBatch(options);
        string batchPath = Path.Combine(folder.Path, "batch.json");
        File.WriteAllText(batchPath, JsonSerializer.Serialize(batch));
        string path = Path.Combine(folder.Path, "python.dien");
        string scores = Path.Combine(folder.Path, "scores.json");
        PythonSide.RunScript("checkpoint_script.py", "fresh", path, batchPath, scores);

        using var predictor = CtrPredictor.Load(path);
        JsonSerializer.Serialize(predictor.Options, CheckpointFormat.Json).Should().Be(JsonSerializer.Serialize(options, CheckpointFormat.Json));
        var python = JsonNode.Parse(File.ReadAllText(scores))!["scores"]!.AsArray().Select(s => s!.GetValue<double>()).ToArray();
        var served = predictor.Score(batch);
        for (int i = 0; i < served.Length; i++)
        {
            served[i].Should().BeApproximately((float)python[i], 2e-6f, $"row {i}");
        }

        predictor.Contents!.Data.Categories.Should().ContainKey("cétégorie <1> & 'x'+\"y\"");
        predictor.Contents.Data.ItemCategories.Should().HaveCount(29).And.Contain(7, 3);
        predictor.MaxHistoryLength.Should().Be(50);
    }

    [SkippableFact]
    public void ConvertingRefusesDisagreeingOptionsOrVocabularies()
    {
        Skip.If(PythonSide.Unavailable is not null, PythonSide.Unavailable);
        using var folder = new TempFolder();
        var (original, _) = DotNetCheckpoint(folder.Path);
        string pt = Path.Combine(folder.Path, "model.pt");
        PythonSide.RunModule("dien.convert", "to-pytorch", original, pt);

        // Other vocabularies: the same model with one item id moved.
        var moved = new CheckpointData { Items = Data.Items.ToDictionary(p => p.Key, p => p.Key == "B000007" ? 8L : p.Value), Categories = Data.Categories, Users = Data.Users };
        string otherVocabularies = Path.Combine(folder.Path, "other-vocabularies.dien");
        using (var model = Checkpoint.LoadModel(original))
        {
            Checkpoint.Save(otherVocabularies, model, moved);
        }

        var (code, _, error) = PythonSide.Run(PythonSide.Python, new[] { "-m", "dien.convert", "to-dien", pt, Path.Combine(folder.Path, "x.dien"), "--check-against", otherVocabularies });
        code.Should().Be(1);
        error.Should().Contain("table 'items'").And.Contain("'B000007' -> 7 here, 8 there");

        // Other options: a model of another width.
        string otherOptions = Path.Combine(folder.Path, "other-options.dien");
        using (var model = new DienModel(ParityTests.Small(o => { o.ExtraFieldVocabularySizes = new List<long> { 4 }; o.HiddenSize = 12; })))
        {
            Checkpoint.Save(otherOptions, model, Data);
        }

        (code, _, error) = PythonSide.Run(PythonSide.Python, new[] { "-m", "dien.convert", "to-dien", pt, Path.Combine(folder.Path, "y.dien"), "--check-against", otherOptions });
        code.Should().Be(1);
        error.Should().Contain("HiddenSize is 36 here but 12 there").And.Contain("ItemMaxNorm");
        File.Exists(Path.Combine(folder.Path, "y.dien")).Should().BeFalse();
    }

    [SkippableFact]
    public void PythonReadsEveryGoldenFileAndGivesItsPinnedScores()
    {
        // The other direction of GoldenFileTests: every version's files, .NET's and Python's, read by schema in Python.
        Skip.If(PythonSide.Unavailable is not null, PythonSide.Unavailable);
        string folder = Path.Combine(RepoPaths.Root, "tests", "Dien.Tests", "Checkpoints", "Golden");
        string report = PythonSide.RunScript("golden_script.py", "--check", folder);
        var lines = report.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Should().HaveCount(Directory.GetFiles(folder, "*.dien").Length);
        lines.Should().Contain(l => l.Contains("format version 1", StringComparison.Ordinal)).And.Contain(l => l.Contains("format version 2", StringComparison.Ordinal));
    }

    private static Dictionary<string, byte[]> Entries(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        return zip.Entries.ToDictionary(e =>
        {
            return e.FullName;
        }, e =>
        {
            using var stream = e.Open();
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            return memory.ToArray();
        });
    }
}
