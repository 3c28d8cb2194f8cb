using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Dien.Checkpoints;
using Dien.Inference;
using Dien.Model;
using Dien.Tests.Training;
using Dien.Training;
using FluentAssertions;
using TorchSharp;
using Xunit;

namespace Dien.Tests.Checkpoints;

/// <summary>
/// The checkpoint as a versioned contract: options compared by value, properties an older file lacks taking their
/// release's value, format version 1 migrated, and the messages of a refused file short and naming the entry.
/// </summary>
[Collection("Sequential")]
public sealed class CheckpointContractTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("dien-contract-").FullName;

    public CheckpointContractTests() => ModelKinds.Register("tiny", o => new TinyCtrModel(o));

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Saved(string name, CtrModelOptions? options = null)
    {
        string path = Path.Combine(_folder, name);
        torch.manual_seed(4);
        using var model = new TinyCtrModel(options ?? TinyCtrModel.SmallOptions());
        Checkpoint.Save(path, model);
        return path;
    }

    /// <summary>Rewrites entries and the manifest's table to match them: a consistent file with other contents.</summary>
    private static void Rewrite(string path, Action<Dictionary<string, byte[]>> change, int? formatVersion = null) =>
        CheckpointFiles.Rewrite(path, change, formatVersion);

    private static void EditOptions(Dictionary<string, byte[]> entries, Action<JsonObject> edit)
    {
        var options = JsonNode.Parse(entries["options.json"])!.AsObject();
        edit(options);
        entries["options.json"] = System.Text.Encoding.UTF8.GetBytes(options.ToJsonString());
    }

    [Fact]
    public void Options_are_compared_by_value_so_other_formatting_and_order_load()
    {
        string path = Saved("m.dien");
        Rewrite(path, e =>
        {
            // Compact, reversed and with other number spellings: the text differs, the values do not.
            var options = JsonNode.Parse(e["options.json"])!.AsObject();
            var reversed = new JsonObject(options.Reverse().Select(p => new KeyValuePair<string, JsonNode?>(p.Key, p.Value?.DeepClone())));
            e["options.json"] = System.Text.Encoding.UTF8.GetBytes(reversed.ToJsonString().Replace("\"Alpha\":0.1", "\"Alpha\":1.0E-1", StringComparison.Ordinal));
        });
        Checkpoint.Read(path).Options.Alpha.Should().Be(0.1);

        using var model = new TinyCtrModel(TinyCtrModel.SmallOptions());
        var act = () => Checkpoint.LoadInto(path, model, null);
        act.Should().NotThrow();
    }

    [Fact]
    public void Differences_are_named_property_by_property_with_both_values()
    {
        string path = Saved("m.dien");
        var other = TinyCtrModel.SmallOptions();
        other.Alpha = 0.25;
        other.HeadHiddenSizes = [7];
        using var model = new TinyCtrModel(other);
        var act = () => Checkpoint.LoadInto(path, model, null);
        act.Should().Throw<CheckpointException>().WithMessage("*options.json*Alpha is 0.1 in the file but 0.25 in the model; HeadHiddenSizes is [200,80] in the file but [7] in the model.");
    }

    [Fact]
    public void A_property_an_older_file_lacks_takes_the_value_of_its_release_not_todays_default()
    {
        string path = Saved("m.dien");
        // As a version-1 file written before Alpha and HeadDropout existed would be: they take version 1's values.
        Rewrite(path, e =>
        {
            EditOptions(e, o =>
            {
                o.Remove("Alpha");
                o.Remove("HeadDropout");
            });
            e.Remove("data.json");
            e["vocabularies.json"] = System.Text.Encoding.UTF8.GetBytes("{}");
        }, formatVersion: 1);
        var version1 = OptionsBaselines.For(1);
        var contents = Checkpoint.Read(path);
        contents.FormatVersion.Should().Be(1);
        contents.Options.Alpha.Should().Be(version1["Alpha"]!.GetValue<double>());
        contents.Options.HeadDropout.Should().Be(version1["HeadDropout"]!.GetValue<double>());
        contents.Options.ItemVocabularySize.Should().Be(40, "what the file holds is kept");
    }

    [Fact]
    public void Every_option_has_a_recorded_value_in_every_format_versions_table()
    {
        // Adding a CtrModelOptions property without recording what older files meant by its absence fails here.
        foreach (int version in OptionsBaselines.Versions)
        {
            OptionsBaselines.For(version).Select(p => p.Key).Should().BeEquivalentTo(CheckpointFormat.OptionNames, $"format version {version}'s table");
        }

        OptionsBaselines.Versions.Should().Contain(Enumerable.Range(Checkpoint.OldestReadableFormatVersion, Checkpoint.FormatVersion));
    }

    [Fact]
    public void An_option_this_release_does_not_know_is_refused_by_name()
    {
        string path = Saved("m.dien");
        Rewrite(path, e => EditOptions(e, o => o["WarpDrive"] = true));
        var act = () => Checkpoint.Read(path);
        act.Should().Throw<CheckpointException>().WithMessage("*options.json*'WarpDrive'*not options of this release*");
    }

    [Fact]
    public void A_version_1_file_is_migrated_and_its_unknown_item_gets_no_category()
    {
        string path = Saved("v1.dien");
        Rewrite(path, e =>
        {
            e.Remove("data.json");
            // What version-1 training wrote: named maps, and the category of the last unknown item under "0".
            e["vocabularies.json"] = System.Text.Encoding.UTF8.GetBytes("""
                {"items": {"B00X": 3, "B01Y": 4}, "categories": {"Hair": 2}, "users": {"u9": 9}, "item_category": {"0": 3, "3": 2, "4": 5}}
                """);
        }, formatVersion: 1);

        using var predictor = CtrPredictor.Load(path);
        var contents = predictor.Contents!;
        contents.FormatVersion.Should().Be(1);
        contents.Data.Items.Should().Equal(new Dictionary<string, long> { ["B00X"] = 3, ["B01Y"] = 4 });
        contents.Data.Categories["Hair"].Should().Be(2);
        contents.Data.Users["u9"].Should().Be(9);
        contents.Data.ItemCategories.Should().Equal(new Dictionary<long, long> { [3] = 2, [4] = 5 });
        contents.Data.CategoryOf(0).Should().Be(0, "item 0 is the unknown item");
        contents.Data.MaxHistoryLength.Should().BeNull("version 1 recorded no cut");
        predictor.MaxHistoryLength.Should().BeNull();
    }

    [Fact]
    public void A_forged_optimizer_entry_is_quoted_as_a_short_printable_excerpt()
    {
        string path = Path.Combine(_folder, "trained.dien");
        torch.manual_seed(3);
        using (var model = new TinyCtrModel(TinyCtrModel.SmallOptions()))
        using (var trainer = new CtrTrainer(model, new TrainerOptions { Epochs = 1, LearningRate = 0.05, ReleaseMemoryBetweenEpochs = false }))
        {
            trainer.Fit(TinyData.Epochs(TinyData.Batches(1, 3), 3));
            trainer.SaveCheckpoint(path);
        }

        // A state whose first string (the optimizer's type name) claims 3,755 bytes of binary, as the forged file of the review did.
        Rewrite(path, e => e["optimizer.bin"] = new byte[] { 0xAB, 0x1D }.Concat(RandomNumberGenerator.GetBytes(4096)).ToArray());
        using var other = new TinyCtrModel(TinyCtrModel.SmallOptions());
        using var again = new CtrTrainer(other, new TrainerOptions { Epochs = 2, ReleaseMemoryBetweenEpochs = false });
        var e = ((Action)(() => again.LoadCheckpoint(path))).Should().Throw<CheckpointException>().WithMessage("*optimizer.bin*does not fit the optimizer*").Which;
        string quoted = e.Message.Replace(e.Path, string.Empty, StringComparison.Ordinal);
        e.InnerException!.Message.Length.Should().BeGreaterThan(3000, "the underlying message quotes the forged bytes whole");
        quoted.Length.Should().BeLessThan(420, "the message quotes at most a short excerpt");
        quoted.Should().MatchRegex("^[ -~]*$", "every quoted character is printable");
    }

    [Fact]
    public void The_predictor_keeps_the_most_recent_behaviours_up_to_the_training_cut()
    {
        string path = Path.Combine(_folder, "cut.dien");
        torch.manual_seed(6);
        using var model = new DienModel(new CtrModelOptions { ItemVocabularySize = 20, CategoryVocabularySize = 5, UserVocabularySize = 4, HeadHiddenSizes = [8], AttentionHiddenSizes = [6] });
        Checkpoint.Save(path, model, new CheckpointData { MaxHistoryLength = 3 });
        using var cut = CtrPredictor.Load(path);
        using var whole = new CtrPredictor(model);
        cut.MaxHistoryLength.Should().Be(3);

        long[] history = [1, 2, 3, 4, 5, 6], categories = [1, 2, 3, 4, 1, 2], candidates = [7, 8, 9], candidateCategories = [3, 3, 4];
        var scored = cut.ScoreCandidates(1, history, categories, candidates, candidateCategories);
        scored.Should().Equal(whole.ScoreCandidates(1, history[3..], categories[3..], candidates, candidateCategories), "only the three most recent behaviours count");
        scored.Should().NotEqual(whole.ScoreCandidates(1, history, categories, candidates, candidateCategories), "the older behaviours would change the scores");

        // A batch is cut row by row, each keeping its own most recent behaviours.
        var batch = new Dien.Data.Batching.BatchArrays
        {
            Size = 2, Width = 6, UserIds = [1, 2], TargetItems = [7, 9], TargetCategories = [3, 4],
            HistoryItems = [1, 2, 3, 4, 5, 6, 10, 11, 0, 0, 0, 0], HistoryCategories = [1, 2, 3, 4, 1, 2, 2, 3, 0, 0, 0, 0], Lengths = [6, 2],
        };
        var rows = cut.Score(batch);
        rows[0].Should().Be(whole.ScoreCandidates(1, [4, 5, 6], [4, 1, 2], [7], [3])[0]);
        rows[1].Should().BeApproximately(whole.ScoreCandidates(2, [10, 11], [2, 3], [9], [4])[0], 1e-6f);
    }
}
