using System.Diagnostics;
using Dien.Auxiliary;
using Dien.Checkpoints;
using Dien.Data;
using Dien.Data.Batching;
using Dien.Metrics;
using Dien.Model;
using Dien.Training;
using Spectre.Console;
using TorchSharp;

namespace Dien.Train;

/// <summary>
/// The train command: data, a validation split by user, model, trainer, live progress, then the table, the test
/// figures of the chosen epoch (the test file is scored once), metrics.json and the curve.
/// </summary>
internal static class TrainRun
{
    public static int Run(TrainSettings settings, CancellationToken cancellationToken)
    {
        var device = Devices.Pick(settings.Device);
        torch.set_num_threads(settings.Threads);
        torch.manual_seed(settings.Seed);
        Directory.CreateDirectory(settings.Output);

        AnsiConsole.MarkupLine($"[bold]Dien.NET[/] training [green]{settings.Model}[/] on {device.type.ToString().ToLowerInvariant()} with {settings.Threads} thread(s)");
        var data = LoadedData.Load(settings);
        AnsiConsole.MarkupLineInterpolated($"data: {data.Description}");
        // Model selection (early stopping, best checkpoint) on training users held out by user, as the test users are;
        // the vocabularies and the negative sampler stay as loaded. Without a fraction the test file picks the epoch.
        // A split by time brings its own validation data, the last slice of the training period.
        var split = data.Validation is { } byTime
            ? new ValidationSplit(data.Train, byTime)
            : ValidationSplit.ByUser(data.Train, settings.ValidationFraction, settings.Seed);
        if (settings.ValidateOn == ValidationSamples.Last)
        {
            split = split.LastPerUser();
        }

        bool selectOnTest = split.Validation.Count == 0;
        var selection = new SelectionFigures(
            selectOnTest ? "test" : "validation",
            split.Validation.Select(s => s.User).Distinct().Count(),
            split.Validation.Count,
            split.Train.Count);
        if (selectOnTest)
        {
            AnsiConsole.MarkupLine("[yellow]no validation split[/] (--validation-fraction 0): the epoch is picked on the [yellow]test file[/], so its test figures are optimistic.");
        }
        else
        {
            AnsiConsole.MarkupLineInterpolated($"validation: {(data.Validation is null ? $"{selection.ValidationUsers:N0} users ({settings.ValidationFraction:P0}) held out of training" : $"the training period's latest {settings.ValidationFraction:P0} of events ({selection.ValidationUsers:N0} users)")}, scored on {selection.ValidationSamples:N0} of their samples ({(settings.ValidateOn == ValidationSamples.Last ? "each user's last" : "all")}); training on {selection.TrainSamples:N0} samples");
        }

        // The model's options: the --options file or the library's defaults, the data's vocabulary sizes, then the flags.
        var options = settings.ModelOptionsFile is { } optionsFile ? ModelOptionsFile.Read(optionsFile) : new CtrModelOptions();
        options.ItemVocabularySize = data.ItemVocabularySize;
        options.CategoryVocabularySize = data.CategoryVocabularySize;
        options.UserVocabularySize = data.UserVocabularySize;
        if (settings.Sets("--evolution")) options.Evolution = settings.Evolution;
        if (settings.Sets("--attention")) options.Attention = settings.Attention;
        if (settings.Sets("--aux")) options.AuxiliaryLoss = settings.Auxiliary;
        if (settings.Sets("--alpha")) options.Alpha = settings.Alpha;
        if (settings.Sets("--sum-terms")) options.HeadSumTerms = settings.HeadSumTerms;
        if (settings.Sets("--user-field")) options.UseUserField = settings.UseUserField;
        if (settings.Model != ModelKind.Dien) options.Alpha = 0; // DIN and the sum-pooling model have no extractor to supervise

        if (settings.ModelOptionsFile is not null) AnsiConsole.MarkupLineInterpolated($"model options: {settings.ModelOptionsFile}{(settings.GivenModelFlags.Count > 0 ? $", with {string.Join(", ", settings.GivenModelFlags.Order())} from the command line" : string.Empty)}");
        AnsiConsole.MarkupLineInterpolated($"head sum terms: {(options.HeadSumTerms ? "on" : "off")}{(settings.AutoTurnsSumTermsOff && settings.Sets("--sum-terms") ? " (--sum-terms auto: off for DIEN on the synthetic workload, see docs/research/quality-history.md)" : string.Empty)}");
        if (options.AuxiliaryLoss == AuxiliaryLossForm.LabelledHistory && options.HiddenSize != options.BehaviourSize)
        {
            // The labelled-history loss scores h_t . e_t, so the state is as wide as a behaviour.
            options.HiddenSize = options.BehaviourSize;
        }

        bool historyLabels = options.AuxiliaryLoss == AuxiliaryLossForm.LabelledHistory && options.Alpha > 0;
        if (historyLabels && data.Train.All(s => s.HistoryLabels is null))
        {
            throw new ArgumentException($"--aux labelledhistory needs per-behaviour labels, which the {settings.Data.ToString().ToLowerInvariant()} data does not have (Taobao and MovieLens do); use --aux nextbehaviour.");
        }

        using CtrModel model = settings.Model switch
        {
            ModelKind.Din => new DinModel(options),
            ModelKind.Base => new SumPoolingModel(options),
            _ => new DienModel(options),
        };
        model.to(device);

        string best = Path.Combine(settings.Output, "best.dien");
        var trainerOptions = new TrainerOptions
        {
            Epochs = settings.Epochs,
            LearningRate = settings.LearningRate,
            MonitorMetric = MetricKind.Auc,
            Seed = settings.Seed,
            Patience = settings.Patience == 0 ? null : settings.Patience,
            RestoreBestWeights = true,
            BestCheckpointPath = best,
            LastCheckpointPath = Path.Combine(settings.Output, "last.dien"),
        };
        using var trainer = new CtrTrainer(model, trainerOptions, logger: null, device: device) { Data = new CheckpointData
        {
            Users = data.Maps.Users, Items = data.Maps.Items, Categories = data.Maps.Categories, ItemCategories = data.Maps.ItemCategories,
            MaxHistoryLength = settings.MaxHistory, // the batcher's cut below: the predictor cuts served histories the same way
        } };

        IEnumerable<BatchArrays> TrainBatches(int epoch) => new Batcher(new BatcherOptions
        {
            BatchSize = settings.BatchSize,
            MaxHistoryLength = settings.MaxHistory,
            Shuffle = true,
            Seed = settings.Seed + epoch,
            NegativeSampler = options.Alpha > 0 ? data.Sampler : null,
            IncludeHistoryLabels = historyLabels,
        }).Batches(split.Train).Where(b => b.Size >= 2); // BatchNorm needs two rows to train on
        // Scoring sorted by length: in evaluation a row's score does not depend on its batch, so this only skips padding.
        IEnumerable<BatchArrays> EvaluationBatches(IReadOnlyList<Sample> samples) => new Batcher(new BatcherOptions
        {
            BatchSize = 512,
            MaxHistoryLength = settings.MaxHistory,
            BucketByLength = true,
        }).Batches(samples);
        var selectionSamples = selectOnTest ? data.Test : split.Validation;

        int batchesPerEpoch = (split.Train.Count + settings.BatchSize - 1) / settings.BatchSize;
        var speed = new Dictionary<int, double>();
        var seconds = new Dictionary<int, double>();
        var watch = Stopwatch.StartNew();
        TrainingResult result = null!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                ProgressTask? task = null;
                var epochClock = Stopwatch.StartNew();
                var progress = new SynchronousProgress<TrainingProgress>(p =>
                {
                    if (task is null || task.Description != Describe(p.Epoch))
                    {
                        task?.StopTask();
                        task = context.AddTask(Describe(p.Epoch), maxValue: batchesPerEpoch);
                        epochClock.Restart();
                    }

                    task.Value = Math.Min(p.Batch + 1, batchesPerEpoch);
                    speed[p.Epoch] = p.SamplesPerSecond;
                    seconds[p.Epoch] = epochClock.Elapsed.TotalSeconds;
                });
                result = trainer.Fit(TrainBatches, () => EvaluationBatches(selectionSamples), progress, cancellationToken);
                if (task is not null)
                {
                    task.Value = task.MaxValue;
                    task.StopTask();
                }
            });

        // The model now holds the chosen epoch's weights (RestoreBestWeights); the test file is scored once, with them.
        EvaluationResult? test = result.Cancelled ? null : trainer.Evaluate(EvaluationBatches(data.Test));
        var report = new RunReport(settings, data.Description, result, speed, seconds, watch.Elapsed, best, selection, test);
        report.WriteTable();
        if (result.StoppedEarly)
        {
            AnsiConsole.MarkupLineInterpolated($"stopped early after epoch {result.Epochs[^1].Epoch + 1}: {selection.SelectedOn} AUC did not improve for {settings.Patience} epochs (--patience).");
        }

        if (test is not null)
        {
            string chosen = selectOnTest ? "chosen on the test file itself" : "chosen on validation";
            AnsiConsole.MarkupLineInterpolated(
                $"test (scored once, epoch {result.BestEpoch + 1} {chosen}): AUC [green]{test.Auc:F4}[/], GAUC {test.GroupAuc:F4}, logloss {test.LogLoss:F4}");
        }

        string metrics = report.WriteJson(Path.Combine(settings.Output, "metrics.json"));
        string curve = TrainingCurve.Write(result, Path.Combine(settings.Output, "training-curve.png"), selection.SelectedOn);
        AnsiConsole.MarkupLineInterpolated($"best checkpoint: [green]{Path.GetFullPath(best)}[/] (epoch {result.BestEpoch + 1}, {selection.SelectedOn} AUC {result.BestMetric:F4})");
        AnsiConsole.MarkupLineInterpolated($"metrics: {Path.GetFullPath(metrics)}");
        AnsiConsole.MarkupLineInterpolated($"training curve: {Path.GetFullPath(curve)}");
        if (result.Cancelled)
        {
            AnsiConsole.MarkupLine("[yellow]cancelled[/]: stopped after the current batch; the last checkpoint is valid.");
        }

        return result.Cancelled ? 130 : 0;
    }

    private static string Describe(int epoch) => $"epoch {epoch + 1}";
}
