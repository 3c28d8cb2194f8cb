using Dien.Data;
using Dien.Data.Batching;
using Dien.Data.Synthetic;
using Dien.Inference;
using Dien.Model;
using Dien.Runtime;
using Dien.Training;
using FluentAssertions;
using TorchSharp;
using Xunit;

namespace Dien.Tests.Docs;

/// <summary>The README's "Using it from C#" example, on a smaller workload, so the example keeps compiling and working.</summary>
[Collection("Sequential")]
public sealed class ReadmeExampleTests : IDisposable
{
    private readonly string _checkpoint = Path.Combine(Path.GetTempPath(), $"dien-readme-{Guid.NewGuid():N}.dien");

    public void Dispose() => File.Delete(_checkpoint);

    [Fact]
    public void TheReadmeExampleTrainsSavesAndScores()
    {
        // In this test process libtorch is already loaded, so this reports TooLate and changes nothing.
        OpenMpSpin.Shorten();
        torch.manual_seed(3);
        var data = SyntheticGenerator.Generate(new SyntheticOptions { Samples = 600, MaxHistoryLength = 12 });
        var options = new DienOptions { ItemVocabularySize = 1001, CategoryVocabularySize = 51, UserVocabularySize = 2001, HeadHiddenSizes = [32, 16] };
        using var model = new DienModel(options);
        var sampler = NegativeSampler.FromHistories(data.Train);
        var split = ValidationSplit.ByUser(data.Train, fraction: 0.1, seed: 2019);

        using var trainer = new DienTrainer(model, new TrainerOptions { Epochs = 2, BestCheckpointPath = _checkpoint });
        var result = trainer.Fit(
            epoch => new Batcher(new BatcherOptions { Shuffle = true, Seed = epoch, NegativeSampler = sampler }).Batches(split.Train),
            () => new Batcher().Batches(split.Validation));
        var test = trainer.Evaluate(new Batcher().Batches(data.Test));

        split.Validation.Should().NotBeEmpty();
        split.Validation.Select(s => s.User).Should().NotIntersectWith(split.Train.Select(s => s.User));
        result.Epochs.Should().HaveCount(2);
        result.BestMetric.Should().BeInRange(0, 1);
        result.RestoredBestWeights.Should().BeTrue();
        trainer.Evaluate(new Batcher().Batches(split.Validation)).Auc.Should().Be(result.BestMetric, "the model holds the chosen epoch's weights");
        test.Auc.Should().BeInRange(0, 1);
        File.Exists(_checkpoint).Should().BeTrue();

        using var predictor = DienPredictor.Load(_checkpoint);
        float[] p = predictor.ScoreCandidates(userId: 7, historyItems: [12, 40, 41], historyCategories: [12, 40, 41],
                                              candidateItems: [3, 90], candidateCategories: [3, 40]);
        p.Should().HaveCount(2).And.OnlyContain(x => x > 0 && x < 1);
    }
}
