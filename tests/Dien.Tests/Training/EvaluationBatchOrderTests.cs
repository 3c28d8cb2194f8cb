using Dien.Data.Batching;
using Dien.Data.Synthetic;
using Dien.Head;
using Dien.Model;
using Dien.Training;
using FluentAssertions;
using TorchSharp;
using Xunit;

namespace Dien.Tests.Training;

/// <summary>
/// In evaluation a row's score does not depend on the other rows of its batch: BatchNorm and Dice use their running
/// statistics, and attention and the recurrences stay within the row. So evaluation batches may be sorted by length
/// (<see cref="BatcherOptions.BucketByLength"/>), which the sample and the quality benchmark do to skip most of the
/// padding, without changing a metric. Checked with both head activations, after training has moved the running
/// statistics away from their start.
/// </summary>
[Collection("Sequential")]
public sealed class EvaluationBatchOrderTests
{
    [Theory]
    [InlineData(HeadActivation.Dice)]
    [InlineData(HeadActivation.PRelu)]
    public void Bucketed_evaluation_batches_give_the_metrics_of_unbucketed_ones(HeadActivation activation)
    {
        var synthetic = new SyntheticOptions { Samples = 1_500, Users = 300, Items = 200, Categories = 10, MinHistoryLength = 1, MaxHistoryLength = 40 };
        var split = SyntheticGenerator.Generate(synthetic);
        torch.manual_seed(3);
        using var model = new DienModel(new CtrModelOptions
        {
            ItemVocabularySize = synthetic.Items + 1, CategoryVocabularySize = synthetic.Categories + 1, UserVocabularySize = synthetic.Users + 1,
            ItemEmbeddingSize = 6, CategoryEmbeddingSize = 6, HiddenSize = 8, AttentionHiddenSizes = [8], AuxiliaryHiddenSizes = [8],
            HeadHiddenSizes = [16, 8], HeadActivation = activation,
        });
        using var trainer = new CtrTrainer(model, new TrainerOptions { Epochs = 1, Patience = null, RestoreBestWeights = false });
        trainer.Fit(_ => new Batcher(new BatcherOptions { BatchSize = 64, Shuffle = true, NegativeSampler = NegativeSampler.FromHistories(split.Train) })
            .Batches(split.Train).Where(b => b.Size >= 2));

        var plain = new Batcher(new BatcherOptions { BatchSize = 64 }).Batches(split.Test).ToList();
        var bucketed = new Batcher(new BatcherOptions { BatchSize = 64, BucketByLength = true }).Batches(split.Test).ToList();
        bucketed.Sum(b => (long)b.Size * b.Width).Should().BeLessThan(plain.Sum(b => (long)b.Size * b.Width) * 3 / 4, "sorting by length must save padding for the check to mean anything");
        bucketed.SelectMany(b => b.Labels!).Should().NotEqual(plain.SelectMany(b => b.Labels!), "the rows are in another order");

        var expected = trainer.Evaluate(plain);
        var actual = trainer.Evaluate(bucketed);
        actual.Auc.Should().BeApproximately(expected.Auc, 1e-9);
        actual.GroupAuc.Should().BeApproximately(expected.GroupAuc, 1e-9);
        actual.LogLoss.Should().BeApproximately(expected.LogLoss, 1e-6);
        actual.Samples.Should().Be(expected.Samples);
    }
}
