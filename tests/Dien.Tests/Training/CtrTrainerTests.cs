using Dien.Checkpoints;
using Dien.Data.Batching;
using Dien.Metrics;
using Dien.Model;
using Dien.Training;
using FluentAssertions;
using TorchSharp;
using Xunit;

namespace Dien.Tests.Training;

[Collection("Sequential")]
public class CtrTrainerTests
{
    private static (TinyCtrModel Model, CtrTrainer Trainer) Build(TrainerOptions options)
    {
        torch.manual_seed(options.Seed);
        var model = new TinyCtrModel(TinyCtrModel.SmallOptions());
        return (model, new CtrTrainer(model, options));
    }

    private static float[] Weights(TinyCtrModel model) =>
        model.parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray()).ToArray();

    private static float[] CheckpointWeights(string path)
    {
        using var model = new TinyCtrModel(TinyCtrModel.SmallOptions());
        Checkpoint.LoadInto(path, model, null);
        return Weights(model);
    }

    private static string TempPath(string kind) => Path.Combine(Path.GetTempPath(), $"dien-{kind}-{Guid.NewGuid():N}.dien");

    /// <summary>
    /// Validation batches with their true labels at epoch <paramref name="best"/> and flipped labels at every other
    /// epoch: a model that learns has its best validation AUC at that epoch whatever its training curve.
    /// </summary>
    private static Func<IEnumerable<BatchArrays>> BestAt(List<BatchArrays> valid, int best, int firstEpoch = 0)
    {
        var flipped = valid.Select(b => new BatchArrays
        {
            Size = b.Size,
            Width = b.Width,
            UserIds = b.UserIds,
            TargetItems = b.TargetItems,
            TargetCategories = b.TargetCategories,
            HistoryItems = b.HistoryItems,
            HistoryCategories = b.HistoryCategories,
            Lengths = b.Lengths,
            Labels = b.Labels!.Select(l => 1 - l).ToArray(),
        }).ToList();
        int epoch = firstEpoch;
        return () => epoch++ == best ? valid : flipped;
    }

    [Fact]
    public void The_defaults_stop_after_two_epochs_without_improvement_and_restore_the_best_weights()
    {
        var options = new TrainerOptions();
        options.Patience.Should().Be(2);
        options.RestoreBestWeights.Should().BeTrue();
    }

    [Fact]
    public void After_fit_the_model_holds_the_weights_of_the_best_validation_epoch()
    {
        var train = TinyData.Batches(1, 10);
        var valid = TinyData.Batches(2, 4);
        string best = TempPath("best"), last = TempPath("last");
        try
        {
            var (model, trainer) = Build(new TrainerOptions { Epochs = 4, LearningRate = 0.05, Patience = null, BestCheckpointPath = best, LastCheckpointPath = last });
            using var _m = model;
            using var _t = trainer;

            var result = trainer.Fit(TinyData.Epochs(train, 3), BestAt(valid, 1));

            result.Epochs.Should().HaveCount(4);
            result.BestEpoch.Should().Be(1);
            result.RestoredBestWeights.Should().BeTrue();
            var bestWeights = CheckpointWeights(best);
            bestWeights.Should().NotEqual(CheckpointWeights(last), "training went on for two epochs after the best one");
            Weights(model).Should().Equal(bestWeights);
            trainer.Evaluate(valid).Should().Be(result.Epochs[1].Validation, "scoring the validation data again gives the best epoch's figures");
            trainer.Evaluate(valid).Auc.Should().Be(result.BestMetric);
            model.training.Should().BeTrue();
        }
        finally
        {
            File.Delete(best);
            File.Delete(last);
        }
    }

    [Fact]
    public void Without_RestoreBestWeights_the_model_keeps_the_last_epoch_weights()
    {
        var train = TinyData.Batches(1, 10);
        var valid = TinyData.Batches(2, 4);
        string best = TempPath("best"), last = TempPath("last");
        try
        {
            var (model, trainer) = Build(new TrainerOptions { Epochs = 4, LearningRate = 0.05, Patience = null, RestoreBestWeights = false, BestCheckpointPath = best, LastCheckpointPath = last });
            using var _m = model;
            using var _t = trainer;

            var result = trainer.Fit(TinyData.Epochs(train, 3), BestAt(valid, 1));

            result.BestEpoch.Should().Be(1);
            result.RestoredBestWeights.Should().BeFalse();
            Weights(model).Should().Equal(CheckpointWeights(last)).And.NotEqual(CheckpointWeights(best));
        }
        finally
        {
            File.Delete(best);
            File.Delete(last);
        }
    }

    [Fact]
    public void Gauc_groups_by_the_batch_group_ids_where_user_ids_cannot_tell_users_apart()
    {
        var byUser = TinyData.Batches(5, 6);
        static BatchArrays Unseen(BatchArrays b, bool keepGroups) => new()
        {
            Size = b.Size, Width = b.Width, UserIds = new long[b.Size], GroupIds = keepGroups ? b.UserIds : null,
            TargetItems = b.TargetItems, TargetCategories = b.TargetCategories, HistoryItems = b.HistoryItems,
            HistoryCategories = b.HistoryCategories, Lengths = b.Lengths, Labels = b.Labels,
        };
        var (model, trainer) = Build(new TrainerOptions());
        using var _m = model;
        using var _t = trainer;

        var seen = trainer.Evaluate(byUser);
        var grouped = trainer.Evaluate(byUser.Select(b => Unseen(b, keepGroups: true)).ToList());
        var oneGroup = trainer.Evaluate(byUser.Select(b => Unseen(b, keepGroups: false)).ToList());

        grouped.Should().Be(seen, "the group ids carry the users the ids lost");
        oneGroup.GroupAuc.Should().Be(oneGroup.Auc, "without group ids every unseen user is one group");
        grouped.GroupAuc.Should().NotBe(grouped.Auc);
    }

    [Fact]
    public void Patience_stops_two_epochs_after_the_best_and_the_best_weights_come_back()
    {
        var train = TinyData.Batches(1, 10);
        var valid = TinyData.Batches(2, 4);
        var (model, trainer) = Build(new TrainerOptions { Epochs = 10, LearningRate = 0.05 }); // default patience 2
        using var _m = model;
        using var _t = trainer;

        var result = trainer.Fit(TinyData.Epochs(train, 3), BestAt(valid, 0));

        result.StoppedEarly.Should().BeTrue();
        result.Epochs.Should().HaveCount(3, "epochs 1 and 2 did not improve on epoch 0");
        trainer.CompletedEpochs.Should().Be(3);
        result.BestEpoch.Should().Be(0);
        result.RestoredBestWeights.Should().BeTrue();
        trainer.Evaluate(valid).Should().Be(result.Epochs[0].Validation);
    }

    [Fact]
    public void A_resumed_trainer_restores_the_best_epoch_from_the_best_checkpoint_or_warns_without_it()
    {
        var train = TinyData.Batches(1, 10);
        var valid = TinyData.Batches(2, 4);
        string best = TempPath("best"), last = TempPath("last");
        try
        {
            var (firstModel, first) = Build(new TrainerOptions { Epochs = 2, LearningRate = 0.05, BestCheckpointPath = best, LastCheckpointPath = last });
            using (firstModel)
            using (first)
            {
                first.Fit(TinyData.Epochs(train, 3), BestAt(valid, 0)).BestEpoch.Should().Be(0);
            }

            var bestWeights = CheckpointWeights(best);
            foreach (string? bestPath in new[] { best, null })
            {
                torch.manual_seed(999);
                using var model = new TinyCtrModel(TinyCtrModel.SmallOptions());
                var logger = new ListLogger();
                using var resumed = new CtrTrainer(model, new TrainerOptions { Epochs = 3, LearningRate = 0.05, BestCheckpointPath = bestPath }, logger);
                resumed.LoadCheckpoint(last);

                // Epoch 2 sees flipped labels, so epoch 0 (before the resume) stays the best.
                var result = resumed.Fit(TinyData.Epochs(train, 3), BestAt(valid, 0, firstEpoch: 2));

                result.Epochs.Should().ContainSingle().Which.Epoch.Should().Be(2);
                result.BestEpoch.Should().Be(0);
                if (bestPath is not null)
                {
                    result.RestoredBestWeights.Should().BeTrue();
                    Weights(model).Should().Equal(bestWeights);
                }
                else
                {
                    result.RestoredBestWeights.Should().BeFalse();
                    Weights(model).Should().NotEqual(bestWeights);
                    logger.Warnings.Should().ContainSingle().Which.Should().Contain("best epoch 1 ").And.Contain("last epoch 3");
                }
            }
        }
        finally
        {
            File.Delete(best);
            File.Delete(last);
        }
    }

    [Fact]
    public void A_non_finite_loss_stops_training_before_the_step_and_names_the_batch()
    {
        var train = TinyData.Batches(1, 3);
        var (model, trainer) = Build(new TrainerOptions { Epochs = 1 });
        using var _m = model;
        using var _t = trainer;
        var output = model.named_parameters().Single(p => p.name == "output.weight").parameter;
        using (torch.no_grad())
        {
            output.fill_(float.NaN);
        }

        var before = Weights(model);

        var act = () => trainer.Fit(TinyData.Epochs(train, 1));

        act.Should().Throw<InvalidOperationException>().WithMessage("*NaN at epoch 0, batch 0*no step was taken*");
        Weights(model).Select(w => float.IsNaN(w) ? 0 : w).Should().Equal(before.Select(w => float.IsNaN(w) ? 0 : w), "no optimizer step ran");
    }

    [Fact]
    public void Training_learns_the_signal_and_reports_progress()
    {
        var train = TinyData.Batches(1, 20);
        var valid = TinyData.Batches(2, 5);
        var (model, trainer) = Build(new TrainerOptions { Epochs = 4, LearningRate = 0.05, LearningRateDecayPerEpoch = 0.5, GradientClipNorm = 5, Patience = null });
        using var _m = model;
        using var _t = trainer;
        var before = trainer.Evaluate(valid);
        var reports = new List<TrainingProgress>();
        var progress = new SynchronousProgress<TrainingProgress>(reports.Add);

        var result = trainer.Fit(TinyData.Epochs(train, 3), () => valid, progress);

        result.Epochs.Should().HaveCount(4);
        result.Cancelled.Should().BeFalse();
        result.Epochs.Select(e => e.LearningRate).Should().Equal(0.05, 0.025, 0.0125, 0.00625);
        result.Epochs[^1].Validation!.Auc.Should().BeGreaterThan(0.9).And.BeGreaterThan(before.Auc);
        result.Epochs[^1].TrainingLoss.Should().BeLessThan(result.Epochs[0].TrainingLoss);
        reports.Should().HaveCount(80);
        reports[^1].Should().Match<TrainingProgress>(r => r.Epoch == 3 && r.Batch == 19 && r.SamplesSeen == 320);
        model.training.Should().BeTrue("evaluation returns the model to train mode");
    }

    [Fact]
    public void Two_runs_with_one_seed_give_identical_metrics_and_weights()
    {
        var train = TinyData.Batches(1, 10);
        var valid = TinyData.Batches(2, 3);
        var options = new TrainerOptions { Epochs = 2, LearningRate = 0.02, Seed = 5 };
        var (m1, t1) = Build(options);
        var (m2, t2) = Build(options);
        using (m1) using (t1) using (m2) using (t2)
        {
            var r1 = t1.Fit(TinyData.Epochs(train, 3), () => valid);
            var r2 = t2.Fit(TinyData.Epochs(train, 3), () => valid);
            r1.Epochs.Select(e => e.Validation).Should().Equal(r2.Epochs.Select(e => e.Validation));
            Weights(m1).Should().Equal(Weights(m2));
        }
    }

    [Fact]
    public void Resuming_from_a_checkpoint_repeats_an_uninterrupted_run()
    {
        var train = TinyData.Batches(1, 10);
        var valid = TinyData.Batches(2, 3);
        string path = Path.Combine(Path.GetTempPath(), $"dien-resume-{Guid.NewGuid():N}.dien");
        try
        {
            var (straightModel, straight) = Build(new TrainerOptions { Epochs = 2, LearningRate = 0.02, LearningRateDecayPerEpoch = 0.5, RestoreBestWeights = false });
            using var _a = straightModel;
            using var _b = straight;
            var full = straight.Fit(TinyData.Epochs(train, 3), () => valid);

            var (firstModel, first) = Build(new TrainerOptions { Epochs = 1, LearningRate = 0.02, LearningRateDecayPerEpoch = 0.5, RestoreBestWeights = false });
            using (firstModel)
            using (first)
            {
                first.Fit(TinyData.Epochs(train, 3), () => valid);
                first.SaveCheckpoint(path);
            }

            torch.manual_seed(999); // a different fresh model: everything must come from the checkpoint
            using var resumedModel = new TinyCtrModel(TinyCtrModel.SmallOptions());
            using var resumed = new CtrTrainer(resumedModel, new TrainerOptions { Epochs = 2, LearningRate = 0.02, LearningRateDecayPerEpoch = 0.5, RestoreBestWeights = false });
            resumed.LoadCheckpoint(path);
            resumed.CompletedEpochs.Should().Be(1);
            var rest = resumed.Fit(TinyData.Epochs(train, 3), () => valid);

            // Without restoring, both end with the last epoch's weights (restoring is tested below).
            rest.Epochs.Should().ContainSingle().Which.Epoch.Should().Be(1);
            rest.Epochs[0].Validation.Should().Be(full.Epochs[1].Validation);
            Weights(resumedModel).Should().Equal(Weights(straightModel));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Early_stopping_and_best_checkpoint_follow_the_monitored_metric()
    {
        var train = TinyData.Batches(1, 4);
        var valid = TinyData.Batches(2, 2);
        string best = Path.Combine(Path.GetTempPath(), $"dien-best-{Guid.NewGuid():N}.dien");
        try
        {
            // A huge learning rate makes the validation loss oscillate, so patience has something to do.
            var (model, trainer) = Build(new TrainerOptions { Epochs = 30, LearningRate = 3.0, Patience = 2, MonitorMetric = MetricKind.LogLoss, BestCheckpointPath = best });
            using var _m = model;
            using var _t = trainer;
            var result = trainer.Fit(TinyData.Epochs(train, 3), () => valid);

            var losses = result.Epochs.Select(e => e.Validation!.LogLoss).ToList();
            result.BestMetric.Should().Be(losses.Min());
            result.BestEpoch.Should().Be(losses.IndexOf(losses.Min()));
            if (result.StoppedEarly)
            {
                result.Epochs.Count.Should().Be(result.BestEpoch + 3);
            }
            else
            {
                result.Epochs.Should().HaveCount(30);
            }

            File.Exists(best).Should().BeTrue();
            using var reloaded = new TinyCtrModel(TinyCtrModel.SmallOptions());
            Checkpoint.LoadInto(best, reloaded, null);
            using var check = new CtrTrainer(reloaded, new TrainerOptions());
            check.Evaluate(valid).LogLoss.Should().BeApproximately(result.BestMetric, 1e-9);
        }
        finally
        {
            File.Delete(best);
        }
    }

    [Fact]
    public void Cancellation_writes_the_last_checkpoint_and_resuming_from_it_equals_never_cancelling()
    {
        var train = TinyData.Batches(1, 10);
        var valid = TinyData.Batches(2, 3);
        string last = TempPath("last");
        string straightLast = TempPath("straight");
        try
        {
            float[] straight;
            {
                var (model, trainer) = Build(new TrainerOptions { Epochs = 3, LearningRate = 0.05, Patience = null, RestoreBestWeights = false });
                using var _m = model;
                using var _t = trainer;
                trainer.Fit(TinyData.Epochs(train, 3), () => valid);
                straight = Weights(model);
            }

            float[] atCancel;
            {
                var (model, trainer) = Build(new TrainerOptions { Epochs = 3, LearningRate = 0.05, Patience = null, RestoreBestWeights = false, LastCheckpointPath = last });
                using var _m = model;
                using var _t = trainer;
                using var cts = new CancellationTokenSource();
                int batches = 0;
                var progress = new SynchronousProgress<TrainingProgress>(p =>
                {
                    batches++;
                    if (p.Epoch == 1 && p.Batch == 3)
                    {
                        cts.Cancel();
                    }
                });

                var result = trainer.Fit(TinyData.Epochs(train, 3), () => valid, progress, cts.Token);

                result.Cancelled.Should().BeTrue();
                result.RestoredBestWeights.Should().BeFalse();
                batches.Should().Be(14);
                trainer.CompletedEpochs.Should().Be(1);
                atCancel = Weights(model);
                CheckpointWeights(last).Should().Equal(atCancel, "the checkpoint written on cancellation holds the weights after the last batch taken");
            }

            // A fresh trainer resumed from the cancellation checkpoint continues with batch 4 of epoch 1.
            torch.manual_seed(12345);
            using var reloaded = new TinyCtrModel(TinyCtrModel.SmallOptions());
            using var again = new CtrTrainer(reloaded, new TrainerOptions { Epochs = 3, LearningRate = 0.05, Patience = null, RestoreBestWeights = false });
            again.LoadCheckpoint(last);
            again.CompletedEpochs.Should().Be(1);
            CheckpointReader.TrainingStateOf(CheckpointReader.Open(last))!.BatchesIntoEpoch.Should().Be(4);
            var resumed = again.Fit(TinyData.Epochs(train, 3), () => valid);
            resumed.Epochs.Select(e => e.Epoch).Should().Equal(1, 2);
            Weights(reloaded).Should().Equal(straight, "resuming inside the cancelled epoch repeats the uncancelled run exactly");
        }
        finally
        {
            File.Delete(last);
            File.Delete(straightLast);
        }
    }

    [Fact]
    public void A_further_Fit_after_cancellation_continues_inside_the_epoch()
    {
        var train = TinyData.Batches(1, 6);
        float[] straight;
        {
            var (model, trainer) = Build(new TrainerOptions { Epochs = 2, LearningRate = 0.05 });
            using var _m = model;
            using var _t = trainer;
            trainer.Fit(TinyData.Epochs(train, 3));
            straight = Weights(model);
        }

        var (m, t) = Build(new TrainerOptions { Epochs = 2, LearningRate = 0.05 });
        using var _m2 = m;
        using var _t2 = t;
        using var cts = new CancellationTokenSource();
        var progress = new SynchronousProgress<TrainingProgress>(p =>
        {
            if (p.Epoch == 0 && p.Batch == 2)
            {
                cts.Cancel();
            }
        });
        t.Fit(TinyData.Epochs(train, 3), null, progress, cts.Token).Cancelled.Should().BeTrue();
        var result = t.Fit(TinyData.Epochs(train, 3));
        result.Epochs.Should().HaveCount(2);
        Weights(m).Should().Equal(straight);
    }

    [Fact]
    public void Live_tensor_count_stays_flat_across_epochs()
    {
        var train = TinyData.Batches(1, 8);
        var valid = TinyData.Batches(2, 2);
        var counts = new List<long>();
        // The trainer logs each epoch after its batches and evaluation are disposed: count live tensors then.
        // Batches are built on a prefetch thread and disposed on this one, so count process-wide.
        var logger = new EpochLogger(() => counts.Add(torch.Tensor.TotalCount));
        torch.manual_seed(1);
        using var model = new TinyCtrModel(TinyCtrModel.SmallOptions());
        using var trainer = new CtrTrainer(model, new TrainerOptions { Epochs = 5, GradientClipNorm = 1, Patience = null }, logger);
        trainer.Fit(TinyData.Epochs(train, 3), () => valid);

        counts.Should().HaveCount(5);
        counts[1].Should().BeGreaterThan(0, "the model's parameters and Adam's moments are alive");
        // The first epoch creates Adam's moment buffers; from then on nothing may accumulate.
        counts.Skip(1).Should().AllBeEquivalentTo(counts[1], $"live tensors after each epoch were {string.Join(", ", counts)}");
    }

    [Fact]
    public void An_invalid_batch_from_the_background_builder_surfaces_as_its_ArgumentException()
    {
        var train = TinyData.Batches(1, 3);
        train[2].Lengths[0] = 99;
        var (model, trainer) = Build(new TrainerOptions { Epochs = 1 });
        using var _m = model;
        using var _t = trainer;
        var act = () => trainer.Fit(_ => train);
        act.Should().Throw<ArgumentException>().WithMessage("*Lengths[0] = 99*");
        trainer.CompletedEpochs.Should().Be(0);
    }

    private sealed class EpochLogger(Action onEpoch) : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (formatter(state, exception).StartsWith("Epoch ", StringComparison.Ordinal))
            {
                onEpoch();
            }
        }
    }

    private sealed class ListLogger : Microsoft.Extensions.Logging.ILogger
    {
        public List<string> Warnings { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == Microsoft.Extensions.Logging.LogLevel.Warning)
            {
                Warnings.Add(formatter(state, exception));
            }
        }
    }

    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
