using Dien.Checkpoints;
using Dien.Metrics;
using Dien.Training;
using FluentAssertions;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using Xunit;

namespace Dien.Tests.Training;

[Collection("Sequential")]
public class BestEpochTrackerTests
{
    private static TinyCtrModel NewModel()
    {
        torch.manual_seed(7);
        return new TinyCtrModel(TinyCtrModel.SmallOptions());
    }

    private static BestEpochTracker Tracker(TinyCtrModel model, TrainerOptions options) => new(model, options, NullLogger.Instance);

    private static float[] Weights(TinyCtrModel model) =>
        model.parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray()).ToArray();

    /// <summary>What a training step does to the tracker: the model's weights change.</summary>
    private static void Step(TinyCtrModel model)
    {
        using var noGrad = torch.no_grad();
        foreach (var parameter in model.parameters())
        {
            parameter.add_(0.25f);
        }
    }

    [Theory]
    [InlineData(MetricKind.Auc, 0.71, 0.70, true)]
    [InlineData(MetricKind.Auc, 0.69, 0.70, false)]
    [InlineData(MetricKind.GroupAuc, 0.71, 0.70, true)]
    [InlineData(MetricKind.GroupAuc, 0.69, 0.70, false)]
    [InlineData(MetricKind.LogLoss, 0.40, 0.45, true)]
    [InlineData(MetricKind.LogLoss, 0.50, 0.45, false)]
    public void Higher_is_better_for_AUC_and_GAUC_and_lower_for_log_loss(MetricKind metric, double value, double best, bool improves)
    {
        BestEpochTracker.IsImprovement(value, best, metric).Should().Be(improves);
    }

    [Theory]
    [InlineData(MetricKind.Auc)]
    [InlineData(MetricKind.LogLoss)]
    public void A_tie_is_no_improvement_and_any_number_beats_no_best(MetricKind metric)
    {
        BestEpochTracker.IsImprovement(0.7, 0.7, metric).Should().BeFalse("the earlier of equals stays best");
        BestEpochTracker.IsImprovement(0.7, double.NaN, metric).Should().BeTrue();
        BestEpochTracker.IsImprovement(double.NaN, double.NaN, metric).Should().BeFalse();
        BestEpochTracker.IsImprovement(double.NaN, 0.7, metric).Should().BeFalse();
    }

    [Fact]
    public void A_tied_epoch_leaves_the_earlier_one_best_and_counts_as_no_improvement()
    {
        using var model = NewModel();
        using var tracker = Tracker(model, new TrainerOptions { Patience = null });

        tracker.Record(0, 0.7).Should().BeTrue();
        tracker.Record(1, 0.7).Should().BeFalse();

        tracker.BestEpoch.Should().Be(0);
        tracker.BestMetric.Should().Be(0.7);
        tracker.EpochsWithoutImprovement.Should().Be(1);
    }

    [Fact]
    public void A_NaN_validation_figure_is_never_best_and_counts_against_patience()
    {
        using var model = NewModel();
        using var tracker = Tracker(model, new TrainerOptions { Patience = 2 });

        tracker.Record(0, double.NaN).Should().BeFalse();
        tracker.BestEpoch.Should().Be(-1);
        tracker.BestMetric.Should().Be(double.NaN);
        tracker.EpochsWithoutImprovement.Should().Be(1);
        tracker.HoldsBestWeights.Should().BeFalse();

        tracker.Record(1, 0.6).Should().BeTrue("the first number is the first best");
        tracker.Record(2, double.NaN).Should().BeFalse();
        tracker.BestEpoch.Should().Be(1);
        tracker.BestMetric.Should().Be(0.6);
        tracker.EpochsWithoutImprovement.Should().Be(1);
    }

    [Fact]
    public void Patience_counts_epochs_since_the_best_and_an_improvement_resets_it()
    {
        using var model = NewModel();
        using var tracker = Tracker(model, new TrainerOptions { Patience = 2, MonitorMetric = MetricKind.LogLoss });

        tracker.Record(0, 0.50);
        tracker.ShouldStop.Should().BeFalse();
        tracker.Record(1, 0.55);
        tracker.ShouldStop.Should().BeFalse("one epoch without improvement is within patience 2");
        tracker.Record(2, 0.45);
        tracker.EpochsWithoutImprovement.Should().Be(0);
        tracker.ShouldStop.Should().BeFalse();
        tracker.Record(3, 0.46);
        tracker.Record(4, 0.47);

        tracker.EpochsWithoutImprovement.Should().Be(2);
        tracker.ShouldStop.Should().BeTrue();
        tracker.BestEpoch.Should().Be(2);
        tracker.BestMetric.Should().Be(0.45);
    }

    [Fact]
    public void Without_patience_the_tracker_never_says_stop()
    {
        using var model = NewModel();
        using var tracker = Tracker(model, new TrainerOptions { Patience = null });

        tracker.Record(0, 0.8);
        for (int epoch = 1; epoch < 50; epoch++)
        {
            tracker.Record(epoch, 0.5);
            tracker.ShouldStop.Should().BeFalse();
        }

        tracker.EpochsWithoutImprovement.Should().Be(49);
    }

    [Fact]
    public void Restore_gives_the_best_epochs_weights_back()
    {
        using var model = NewModel();
        using var tracker = Tracker(model, new TrainerOptions { Patience = null });

        Step(model);
        tracker.Record(0, 0.6);
        Step(model);
        tracker.Record(1, 0.7);
        var best = Weights(model);
        Step(model);
        tracker.Record(2, 0.65);
        Step(model);
        tracker.Record(3, 0.7);
        Weights(model).Should().NotEqual(best);

        tracker.RestoreBestWeights(completedEpochs: 4).Should().BeTrue();

        tracker.BestEpoch.Should().Be(1);
        Weights(model).Should().Equal(best);
    }

    [Fact]
    public void Without_RestoreBestWeights_nothing_is_held_or_restored()
    {
        using var model = NewModel();
        using var tracker = Tracker(model, new TrainerOptions { Patience = null, RestoreBestWeights = false });

        tracker.Record(0, 0.7).Should().BeTrue();
        tracker.HoldsBestWeights.Should().BeFalse();
        Step(model);
        var last = Weights(model);

        tracker.RestoreBestWeights(completedEpochs: 2).Should().BeFalse();
        Weights(model).Should().Equal(last);
    }

    [Fact]
    public void Nothing_evaluated_restores_nothing()
    {
        using var model = NewModel();
        using var tracker = Tracker(model, new TrainerOptions());

        tracker.RestoreBestWeights(completedEpochs: 3).Should().BeFalse();
    }

    [Fact]
    public void A_resumed_tracker_takes_the_checkpoints_bookkeeping_and_drops_the_weights_it_held()
    {
        using var model = NewModel();
        using var tracker = Tracker(model, new TrainerOptions { Patience = 3 });
        tracker.Record(0, 0.9);
        tracker.HoldsBestWeights.Should().BeTrue();

        tracker.Resume(new TrainingState { CompletedEpochs = 4, BestEpoch = 2, BestMetric = 0.75, EpochsWithoutImprovement = 1 });

        tracker.HoldsBestWeights.Should().BeFalse();
        tracker.BestEpoch.Should().Be(2);
        tracker.BestMetric.Should().Be(0.75);
        tracker.EpochsWithoutImprovement.Should().Be(1);
        tracker.Record(4, 0.74);
        tracker.Record(5, 0.74);
        tracker.ShouldStop.Should().BeTrue("patience counts on from the checkpoint's count");
        var last = Weights(model);

        // The best epoch (2) came before the resume and no best checkpoint holds it: the model keeps its weights.
        tracker.RestoreBestWeights(completedEpochs: 6).Should().BeFalse();
        Weights(model).Should().Equal(last);
    }

    [Fact]
    public void A_resumed_tracker_whose_best_is_the_last_epoch_has_nothing_to_restore()
    {
        using var model = NewModel();
        using var tracker = Tracker(model, new TrainerOptions());
        tracker.Resume(new TrainingState { CompletedEpochs = 3, BestEpoch = 2, BestMetric = 0.75 });
        var last = Weights(model);

        tracker.RestoreBestWeights(completedEpochs: 3).Should().BeTrue();
        Weights(model).Should().Equal(last);
    }

    [Fact]
    public void Dispose_frees_the_copy_of_the_best_weights()
    {
        using var model = NewModel();
        int entries = model.state_dict().Count;
        var tracker = Tracker(model, new TrainerOptions());
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long before = torch.Tensor.TotalCount;

        tracker.Record(0, 0.7);
        tracker.HoldsBestWeights.Should().BeTrue();
        (torch.Tensor.TotalCount - before).Should().Be(entries, "one clone per state-dict entry is held");
        tracker.Record(1, 0.8);
        (torch.Tensor.TotalCount - before).Should().Be(entries, "a new best replaces the copy, it does not add one");

        tracker.Dispose();

        tracker.HoldsBestWeights.Should().BeFalse();
        torch.Tensor.TotalCount.Should().Be(before);
        tracker.BestEpoch.Should().Be(1, "disposing frees memory, not the bookkeeping");
    }
}
