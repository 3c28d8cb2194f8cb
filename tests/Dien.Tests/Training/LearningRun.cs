using Dien.Data;
using Dien.Data.Batching;
using Dien.Model;
using Dien.Training;

namespace Dien.Tests.Training;

/// <summary>The learning tests' one training run: a fixed number of epochs, no early stop, scored once on the test samples.</summary>
internal static class LearningRun
{
    /// <summary>
    /// Trains <paramref name="model"/> for <paramref name="epochs"/> epochs on <paramref name="train"/> (batched with
    /// <paramref name="batcher"/>, reseeded each epoch) and returns the test AUC of the last epoch's weights.
    /// </summary>
    public static double TestAuc(CtrModel model, IEnumerable<Sample> train, IReadOnlyList<Sample> test, BatcherOptions batcher, int seed, int epochs)
    {
        using var trainer = new CtrTrainer(model, new TrainerOptions { Epochs = epochs, Seed = seed, Patience = null, RestoreBestWeights = false });
        trainer.Fit(epoch => new Batcher(batcher.With(o => o.Seed = seed + epoch)).Batches(train).Where(b => b.Size >= 2));
        return trainer.Evaluate(new Batcher(new BatcherOptions { BatchSize = 512 }).Batches(test)).Auc;
    }
}
