using Dien.Data.Batching;
using Dien.Data.Formats;
using Dien.Model;
using Dien.Tests.Data;
using FluentAssertions;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace Dien.Tests.Training;

/// <summary>
/// Does a model on the library's defaults learn from real data? BaseModel trained for one epoch on Amazon Beauty
/// in the authors' format (246,382 lines, 17,890 users) and scored on the test file, whose 4,473 users it never
/// saw. The settings of the first release (N(0, 1) tables, a shuffle inside the batcher's buffer only, batches
/// bucketed by length, the user field and the sum terms) stay below the floor; the defaults clear it on every seed.
/// </summary>
[Collection("Sequential")]
public sealed class RealDataLearningTests(ITestOutputHelper output)
{
    private const int Epochs = 1;

    /// <summary>
    /// The test AUC floor. Measured here: the defaults reached 0.822-0.825 (seeds 1-2), the first release's
    /// settings 0.645-0.657 (seeds 1-2), so the floor sits 0.07 or more from either side, over ten times the
    /// spread between seeds.
    /// </summary>
    private const double Floor = 0.72;

    [SkippableTheory]
    [InlineData(1)]
    [InlineData(2)]
    public void TheDefaultsLearnAboveTheFloorOnUnseenUsers(int seed)
    {
        var data = Load();
        double auc = TestAuc(data, seed, new DienOptions(), firstReleaseBatching: false);
        output.WriteLine($"defaults, seed {seed}: test AUC {auc:F4}");
        auc.Should().BeGreaterThan(Floor);
    }

    [SkippableFact]
    public void TheFirstReleaseSettingsStayBelowTheFloor()
    {
        var data = Load();
        var firstRelease = new DienOptions { EmbeddingInitScale = 1, HeadBatchNorm = true, UseUserField = true, HeadSumTerms = true };
        const int seed = 1;
        double auc = TestAuc(data, seed, firstRelease, firstReleaseBatching: true);
        output.WriteLine($"first release's settings, seed {seed}: test AUC {auc:F4}");
        auc.Should().BeLessThan(Floor, "the floor must tell the defaults from the settings that learned badly");
    }

    private static AuthorsDataset Load()
    {
        string? folder = SharedData.Folder("amazon-beauty-dien", out string reason);
        Skip.If(folder is null, reason);
        return AuthorsDataset.Load(folder!);
    }

    private static double TestAuc(AuthorsDataset data, int seed, DienOptions options, bool firstReleaseBatching)
    {
        torch.manual_seed(seed);
        options.ItemVocabularySize = data.Vocabularies.Items.Size;
        options.CategoryVocabularySize = data.Vocabularies.Categories.Size;
        options.UserVocabularySize = data.Vocabularies.Users.Size;
        using var model = new BaseModel(options);
        // The first release shuffled only inside the batcher's buffer (a lazy stream still is) and bucketed by length.
        var train = firstReleaseBatching ? data.Train.Select(s => s) : data.Train;
        var batcher = new BatcherOptions { Shuffle = true, BucketByLength = firstReleaseBatching };
        return LearningRun.TestAuc(model, train, data.Test, batcher, seed, Epochs);
    }
}
