using System.Text.Json;
using System.Text.Json.Nodes;
using Dien.Checkpoints;
using Dien.Data.Batching;
using Dien.Inference;
using Dien.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;

namespace Dien.Tests.Checkpoints;

/// <summary>
/// The compatibility promise, checked on files: every <c>.dien</c> file in <c>Checkpoints/Golden</c> was written by a
/// release (its name says which format version and which writer) and must load into today's code and give the
/// probabilities pinned beside it (<c>name.json</c>: the inputs and the expected scores).
/// </summary>
/// <remarks>
/// The files of the current format version are written by this test when they are missing: after a format change
/// (<see cref="Checkpoint.FormatVersion"/> raised) the test writes <c>dotnet-v{N}-{kind}.dien</c> for every kind and
/// fails once, asking for them to be committed; the earlier versions' files stay and keep being checked. The Python
/// files are written by <c>python3 python/tests/golden_script.py tests/Dien.Tests/Checkpoints/Golden</c> (from the
/// repository root, with torch). Golden/README.md says which release wrote each file.
/// </remarks>
[Collection("Sequential")]
public sealed class GoldenFileTests
{
    private static readonly string[] Kinds = [nameof(DienModel), nameof(DinModel), "BaseModel"];

    private static string Folder => Path.Combine(RepoPaths.Root, "tests", "Dien.Tests", "Checkpoints", "Golden");

    [Fact]
    public void Every_golden_file_loads_into_todays_code_and_gives_its_pinned_scores()
    {
        var files = Directory.GetFiles(Folder, "*.dien").Order(StringComparer.Ordinal).ToList();
        files.Should().NotBeEmpty();
        foreach (string file in files)
        {
            var pinned = JsonNode.Parse(File.ReadAllText(Path.ChangeExtension(file, ".json")))!;
            var batch = pinned["Batch"].Deserialize<BatchArrays>()!;
            var expected = pinned["Probabilities"]!.AsArray().Select(p => p!.GetValue<double>()).ToArray();
            double tolerance = pinned["Tolerance"]?.GetValue<double>() ?? 1e-6;

            using var predictor = CtrPredictor.Load(file);
            var contents = predictor.Contents!;
            contents.FormatVersion.Should().Be(pinned["FormatVersion"]!.GetValue<int>(), file);
            contents.ModelKind.Should().Be(pinned["Kind"]!.GetValue<string>(), file);
            var scores = predictor.Score(batch);
            scores.Should().HaveCount(expected.Length);
            for (int i = 0; i < scores.Length; i++)
            {
                scores[i].Should().BeApproximately((float)expected[i], (float)tolerance, $"{Path.GetFileName(file)} row {i}");
            }

            // The data travel with the file: the maps and the cut are pinned too.
            contents.Data.ItemCategories.Should().NotContainKey(0, "item 0 is the unknown item");
            contents.Data.Items.Count.Should().Be(pinned["Items"]!.GetValue<int>(), file);
            contents.Data.MaxHistoryLength.Should().Be(pinned["MaxHistoryLength"]?.GetValue<int>(), file);
        }
    }

    [Fact]
    public void A_training_checkpoint_of_format_version_1_resumes_training()
    {
        string path = Path.Combine(Folder, "dotnet-v1-DienModel-training.dien");
        torch.manual_seed(1);
        using var model = new DienModel(Options(nameof(DienModel)));
        using var trainer = new Dien.Training.CtrTrainer(model, new Dien.Training.TrainerOptions { Epochs = 2, LearningRate = 0.01, ReleaseMemoryBetweenEpochs = false });

        trainer.LoadCheckpoint(path);

        trainer.CompletedEpochs.Should().Be(1);
        trainer.Data!.Items.Should().HaveCount(11);
        trainer.Data.ItemCategories.Should().HaveCount(11).And.NotContainKey(0);
        using (var predictor = new CtrPredictor(model))
        using (var stored = CtrPredictor.Load(path))
        {
            predictor.Score(Inputs()).Should().Equal(stored.Score(Inputs()), "the weights are the file's");
        }

        var batch = Inputs();
        var labelled = new BatchArrays
        {
            Size = batch.Size, Width = batch.Width, UserIds = batch.UserIds, TargetItems = batch.TargetItems, TargetCategories = batch.TargetCategories,
            HistoryItems = batch.HistoryItems, HistoryCategories = batch.HistoryCategories, Lengths = batch.Lengths, Labels = [1, 0, 0, 1],
            NegativeItems = batch.HistoryItems.Select(i => i == 0 ? 0L : 1 + (i % 11)).ToArray(), NegativeCategories = batch.HistoryCategories,
        };
        var result = trainer.Fit(_ => [labelled, labelled, labelled]);
        result.Epochs.Should().ContainSingle().Which.Epoch.Should().Be(1, "training continues with the second epoch");
        string resaved = Path.Combine(Path.GetTempPath(), $"dien-golden-{Guid.NewGuid():N}.dien");
        try
        {
            trainer.SaveCheckpoint(resaved);
            var contents = Checkpoint.Read(resaved);
            contents.FormatVersion.Should().Be(Checkpoint.FormatVersion, "a resumed run writes today's format");
            contents.Data.ItemCategories.Should().BeEquivalentTo(trainer.Data.ItemCategories);
        }
        finally
        {
            File.Delete(resaved);
        }
    }

    [Fact]
    public void The_files_of_this_format_version_are_checked_in()
    {
        var written = new List<string>();
        foreach (string kind in Kinds)
        {
            string path = Path.Combine(Folder, $"dotnet-v{Checkpoint.FormatVersion}-{kind}.dien");
            if (!File.Exists(path))
            {
                Write(path, kind);
                written.Add(path);
            }
        }

        written.Should().BeEmpty("the format version changed, so this release's golden files were written now; commit them beside the older ones");
        File.Exists(Path.Combine(Folder, $"python-v{Checkpoint.FormatVersion}-DienModel.dien")).Should().BeTrue(
            "a file of this format version written by python/dien/checkpoint.py must be checked in: run python3 python/tests/golden_script.py tests/Dien.Tests/Checkpoints/Golden");
    }

    /// <summary>Tiny widths keep each file a few KB; every kind's optional parts (auxiliary path, user field) are on.</summary>
    internal static CtrModelOptions Options(string kind) => new()
    {
        ItemVocabularySize = 12,
        CategoryVocabularySize = 5,
        UserVocabularySize = 6,
        ItemEmbeddingSize = 4,
        CategoryEmbeddingSize = 4,
        UserEmbeddingSize = 3,
        UseUserField = true,
        HiddenSize = 6,
        AttentionHiddenSizes = [6],
        AuxiliaryHiddenSizes = [5],
        HeadHiddenSizes = [8],
        Alpha = kind == nameof(DienModel) ? 1 : 0,
        EmbeddingInitScale = 0.5,
    };

    /// <summary>Rows of histories longer than the file's cut (4), so that the pinned scores also pin the cut.</summary>
    internal static BatchArrays Inputs()
    {
        int[] lengths = [6, 1, 3, 5];
        int width = 6;
        var random = new Random(24);
        long[] Ids(int count, int size) => Enumerable.Range(0, count).Select(_ => (long)random.Next(1, size)).ToArray();
        var historyItems = Ids(lengths.Length * width, 12);
        var historyCategories = Ids(lengths.Length * width, 5);
        for (int row = 0; row < lengths.Length; row++)
        {
            for (int t = lengths[row]; t < width; t++)
            {
                historyItems[(row * width) + t] = 0;
                historyCategories[(row * width) + t] = 0;
            }
        }

        return new BatchArrays
        {
            Size = lengths.Length,
            Width = width,
            UserIds = [1, 0, 5, 2],
            TargetItems = [3, 11, 0, 7],
            TargetCategories = [1, 4, 0, 2],
            HistoryItems = historyItems,
            HistoryCategories = historyCategories,
            Lengths = lengths,
        };
    }

    private static void Write(string path, string kind)
    {
        torch.manual_seed(24);
        using var model = ModelKinds.Create(kind, Options(kind));
        var data = new CheckpointData
        {
            Items = Enumerable.Range(1, 11).ToDictionary(i => $"item-{i}", i => (long)i),
            Categories = Enumerable.Range(1, 4).ToDictionary(c => $"cat-{c}", c => (long)c),
            Users = Enumerable.Range(1, 5).ToDictionary(u => $"user-{u}", u => (long)u),
            ItemCategories = Enumerable.Range(1, 11).ToDictionary(i => (long)i, i => (long)(1 + (i % 4))),
            MaxHistoryLength = 4,
        };
        Checkpoint.Save(path, model, data);
        using var predictor = CtrPredictor.Load(path);
        var batch = Inputs();
        var pinned = new JsonObject
        {
            ["Writer"] = $"Dien.NET, format version {Checkpoint.FormatVersion}",
            ["Kind"] = kind,
            ["FormatVersion"] = Checkpoint.FormatVersion,
            ["Items"] = data.Items.Count,
            ["MaxHistoryLength"] = data.MaxHistoryLength,
            ["Batch"] = JsonSerializer.SerializeToNode(batch),
            ["Probabilities"] = new JsonArray(predictor.Score(batch).Select(p => (JsonNode)(double)p).ToArray()),
        };
        File.WriteAllText(Path.ChangeExtension(path, ".json"), pinned.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
