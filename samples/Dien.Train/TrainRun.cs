using System.Diagnostics;
using Dien.Data;
using Dien.Data.Batching;
using Dien.Metrics;
using Dien.Model;
using Dien.Training;
using Spectre.Console;
using TorchSharp;

namespace Dien.Train;

/// <summary>The train command: data, model, trainer, live progress, then the table, metrics.json and the curve.</summary>
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
        bool historyLabels = settings.Auxiliary == AuxiliaryLossForm.LabelledHistory && settings.Alpha > 0 && settings.Model == ModelKind.Dien;
        if (historyLabels && data.Train.All(s => s.HistoryLabels is null))
        {
            throw new ArgumentException($"--aux labelled needs per-behaviour labels, which the {settings.Data.ToString().ToLowerInvariant()} data does not have (Taobao and MovieLens do); use --aux next.");
        }

        var options = new DienOptions
        {
            ItemVocabularySize = data.ItemVocabularySize,
            CategoryVocabularySize = data.CategoryVocabularySize,
            UserVocabularySize = data.UserVocabularySize,
            Evolution = settings.Evolution,
            Attention = settings.Attention,
            AuxiliaryLoss = settings.Auxiliary,
            Alpha = settings.Model == ModelKind.Dien ? settings.Alpha : 0,
        };
        if (options.AuxiliaryLoss == AuxiliaryLossForm.LabelledHistory)
        {
            // The labelled-history loss scores h_t . e_t, so the state is as wide as a behaviour.
            options.HiddenSize = options.BehaviourSize;
        }

        using CtrModel model = settings.Model switch
        {
            ModelKind.Din => new DinModel(options),
            ModelKind.Base => new BaseModel(options),
            _ => new DienModel(options),
        };
        model.to(device);

        string best = Path.Combine(settings.Output, "best.dien");
        var trainerOptions = new TrainerOptions
        {
            Epochs = settings.Epochs,
            LearningRate = settings.LearningRate,
            GradientClipNorm = 5,
            MonitorMetric = MetricKind.Auc,
            Seed = settings.Seed,
            BestCheckpointPath = best,
            LastCheckpointPath = Path.Combine(settings.Output, "last.dien"),
        };
        using var trainer = new DienTrainer(model, trainerOptions, logger: null, device: device) { Vocabularies = data.Vocabularies };

        IEnumerable<BatchArrays> TrainBatches(int epoch) => new Batcher(new BatcherOptions
        {
            BatchSize = settings.BatchSize,
            MaxHistoryLength = settings.MaxHistory,
            Shuffle = true,
            BucketByLength = true,
            Seed = settings.Seed + epoch,
            NegativeSampler = settings.Alpha > 0 ? data.Sampler : null,
            IncludeHistoryLabels = historyLabels,
        }).Batches(data.Train).Where(b => b.Size >= 2); // BatchNorm needs two rows to train on
        IEnumerable<BatchArrays> TestBatches() => new Batcher(new BatcherOptions
        {
            BatchSize = 512,
            MaxHistoryLength = settings.MaxHistory,
        }).Batches(data.Test);

        int batchesPerEpoch = (data.Train.Count + settings.BatchSize - 1) / settings.BatchSize;
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
                result = trainer.Fit(TrainBatches, TestBatches, progress, cancellationToken);
                if (task is not null)
                {
                    task.Value = task.MaxValue;
                    task.StopTask();
                }
            });

        var report = new RunReport(settings, data.Description, result, speed, seconds, watch.Elapsed, best);
        report.WriteTable();
        string metrics = report.WriteJson(Path.Combine(settings.Output, "metrics.json"));
        string curve = TrainingCurve.Write(result, Path.Combine(settings.Output, "training-curve.png"));
        AnsiConsole.MarkupLineInterpolated($"best checkpoint: [green]{Path.GetFullPath(best)}[/] (epoch {result.BestEpoch + 1}, AUC {result.BestMetric:F4})");
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
