using Dien.Evolution;
using Dien.Metrics;
using Dien.Model;
using Dien.Runtime;
using Dien.Training;
using Dien.Training.Selection;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Training;

/// <summary>The opt-in choice of a setting on validation: the grid's reading, its candidates, and which one is kept.</summary>
public sealed class ValidationChoiceTests
{
    [Fact]
    public void A_grid_is_every_combination_of_its_axes_first_axis_slowest()
    {
        var grid = SettingGrid.Parse("Alpha=0,1", "headsumterms=true,false", "Patience=null");

        grid.Candidates.Select(c => c.ToString()).Should().Equal(
            "Alpha=0 HeadSumTerms=true Patience=null",
            "Alpha=0 HeadSumTerms=false Patience=null",
            "Alpha=1 HeadSumTerms=true Patience=null",
            "Alpha=1 HeadSumTerms=false Patience=null");
        SettingGrid.Parse().Candidates.Should().ContainSingle().Which.ToString().Should().Be("(as given)");
    }

    [Fact]
    public void A_candidate_sets_model_and_trainer_options_and_leaves_the_others()
    {
        var candidate = SettingGrid.Parse("Alpha=0.5", "Evolution=agru", "HeadHiddenSizes=64-32", "LearningRate=2e-3", "GradientClipNorm=5").Candidates.Single();
        var model = new CtrModelOptions { HiddenSize = 40 };
        var trainer = new TrainerOptions { Epochs = 3 };

        candidate.ApplyTo(model, trainer);

        model.Alpha.Should().Be(0.5);
        model.Evolution.Should().Be(EvolutionVariant.Agru);
        model.HeadHiddenSizes.Should().Equal(64, 32);
        model.HiddenSize.Should().Be(40);
        trainer.LearningRate.Should().Be(2e-3);
        trainer.GradientClipNorm.Should().Be(5);
        trainer.Epochs.Should().Be(3);
        candidate.Settings.Select(s => s.Key).Should().Equal("Alpha", "Evolution", "HeadHiddenSizes", "LearningRate", "GradientClipNorm");

        // Each application gets its own list, so that one run's options never change another's.
        var other = new CtrModelOptions();
        candidate.ApplyTo(other, new TrainerOptions());
        other.HeadHiddenSizes.Add(1);
        model.HeadHiddenSizes.Should().Equal(64, 32);
    }

    [Fact]
    public void Every_bad_axis_is_named_with_its_value_before_anything_trains()
    {
        var act = () => SettingGrid.Parse("Alpah=0,1", "HeadSumTerms=maybe", "Evolution=augru,lstm", "Epochs=2", "epochs=3", "Alpha", "ItemVocabularySize=x");

        var thrown = act.Should().Throw<SettingGridException>().Which;
        thrown.Should().BeAssignableTo<OptionsException>();
        thrown.Errors.Should().HaveCount(6);
        thrown.Message.Should().Contain("'Alpah'")
            .And.Contain("HeadSumTerms = 'maybe'").And.Contain("true or false")
            .And.Contain("Evolution = 'lstm'").And.Contain("Augru")
            .And.Contain("Epochs is already an axis")
            .And.Contain("'Alpha': expected Name=value")
            .And.Contain("ItemVocabularySize = 'x'");
    }

    [Fact]
    public void The_choice_keeps_the_best_validation_figure_and_reports_every_candidate()
    {
        var grid = SettingGrid.Parse("Alpha=0,1,2");
        var figures = new Dictionary<string, double> { ["0"] = 0.80, ["1"] = 0.83, ["2"] = 0.83 };
        var reported = new List<string>();

        var choice = ValidationChoice.Choose(grid, candidate => Result(figures[candidate.Settings[0].Value]), progress: new SynchronousProgress(o => reported.Add(o.Candidate.ToString())));

        choice.Outcomes.Select(o => o.ValidationMetric).Should().Equal(0.80, 0.83, 0.83);
        choice.BestIndex.Should().Be(1, "the first of equal figures is kept");
        choice.Best.Candidate.ToString().Should().Be("Alpha=1");
        reported.Should().Equal("Alpha=0", "Alpha=1", "Alpha=2");
    }

    [Fact]
    public void With_log_loss_lower_is_better_and_without_validation_nothing_is_chosen()
    {
        var grid = SettingGrid.Parse("Alpha=0,1");
        ValidationChoice.Choose(grid, c => Result(c.ToString() == "Alpha=0" ? 0.50 : 0.45), MetricKind.LogLoss).Best.Candidate.ToString().Should().Be("Alpha=1");
        ValidationChoice.Choose(grid, c => Result(c.ToString() == "Alpha=0" ? double.NaN : 0.45)).BestIndex.Should().Be(1, "a candidate without a figure is never chosen");

        var act = () => ValidationChoice.Choose(grid, _ => Result(double.NaN));
        act.Should().Throw<InvalidOperationException>().WithMessage("*validation*");
    }

    [Fact]
    public void A_real_trainer_chooses_between_learning_rates_on_held_out_batches()
    {
        var train = TinyData.Batches(seed: 1, count: 30);
        var validation = TinyData.Batches(seed: 2, count: 8);
        var grid = SettingGrid.Parse("LearningRate=1e-5,2e-2");

        var choice = ValidationChoice.Choose(grid, candidate =>
        {
            var options = new CtrModelOptions
            {
                ItemVocabularySize = 40, CategoryVocabularySize = 6, UserVocabularySize = 30,
                ItemEmbeddingSize = 4, CategoryEmbeddingSize = 4, HiddenSize = 8, HeadHiddenSizes = new List<int> { 16 },
            };
            var trainerOptions = new TrainerOptions { Epochs = 2, Seed = 3 };
            candidate.ApplyTo(options, trainerOptions);
            TorchSharp.torch.manual_seed(3);
            using var model = new DinModel(options);
            using var trainer = new CtrTrainer(model, trainerOptions);
            return trainer.Fit(_ => train, () => validation);
        });

        choice.Outcomes.Should().HaveCount(2).And.OnlyContain(o => o.ValidationMetric > 0 && o.ValidationMetric <= 1);
        choice.Best.Candidate.ToString().Should().Be("LearningRate=2e-2", "a learning rate of 1e-5 barely moves the weights in two epochs");
        choice.Best.ValidationMetric.Should().BeGreaterThan(choice.Outcomes[0].ValidationMetric);
    }

    private static TrainingResult Result(double metric) => new([], 0, metric, StoppedEarly: false, Cancelled: false, RestoredBestWeights: true);

    private sealed class SynchronousProgress(Action<CandidateOutcome> report) : IProgress<CandidateOutcome>
    {
        public void Report(CandidateOutcome value) => report(value);
    }
}
