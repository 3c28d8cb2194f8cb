using Dien.Diagnostics;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Dien.Data;
using Dien.Data.Batching;
using Dien.Data.Formats;
using Dien.Model;
using Dien.Training;
using Dien.Training.Selection;
using TorchSharp;

namespace Dien.Bench;

/// <summary>
/// The quality benchmark: trains BaseModel, DIN and DIEN on a folder in the authors' format (or, with
/// <c>--path synthetic</c>, on the built-in synthetic workload the sample trains on) for several seeds,
/// each on the library's defaults (plus any <c>--set Option=value</c>), picks the epoch on a validation split of
/// the training users, scores the test file once with that epoch's weights, and reports mean and standard error.
/// </summary>
internal static class QualityBenchmark
{
    private static readonly string[] AllModels = ["base", "din", "dien"];

    /// <summary>History lengths (inclusive) whose validation AUC each run reports separately.</summary>
    private static readonly (int Low, int High)[] LengthBands = [(0, 4), (5, 9), (10, 19), (20, int.MaxValue)];

    public static void Run(string[] args)
    {
        var settings = QualitySettings.Parse(args);
        torch.set_num_threads(settings.Threads);
        Console.WriteLine($"quality: {string.Join(", ", settings.Paths)}, models {string.Join(",", settings.Models)}, seeds {string.Join(",", settings.Seeds)}, " +
                          $"up to {settings.Epochs} epochs (patience {settings.Patience}), validation {settings.ValidationFraction:P0} of the training users{(settings.ValidateOnLastItems ? " (their last samples)" : string.Empty)}" +
                          (settings.Overrides.Count > 0 ? $", set {string.Join(" ", settings.Overrides)}" : string.Empty) +
                          (settings.Grid.Candidates.Count > 1 ? $", choosing on validation among {string.Join(" | ", settings.Grid.Candidates)}" : string.Empty));
        var sets = new List<QualitySet>();
        foreach (string path in settings.Paths)
        {
            sets.Add(RunSet(settings, path));
        }

        var summary = new QualitySummary(settings, sets);
        Console.WriteLine();
        Console.WriteLine(summary.Tables());
        if (settings.Output is { } output)
        {
            File.WriteAllText(output, summary.Markdown());
            Console.WriteLine($"wrote {Path.GetFullPath(output)}");
        }
    }

    /// <summary>Every model and seed on one data set.</summary>
    private static QualitySet RunSet(QualitySettings settings, string path)
    {
        var clock = Stopwatch.StartNew();
        var data = QualityData.Load(path);
        Console.WriteLine($"data: {data.Description}: {data.Train.Count:N0} train / {data.Test.Count:N0} test samples, {data.Items:N0} item ids, read in {clock.Elapsed.TotalSeconds:F1} s");
        // How much the histories' order tells beyond their set: the room DIEN's evolution has over DIN's pooling.
        var order = OrderSignal.Measure(data.Train, seed: settings.Seeds[0]);
        Console.WriteLine(QualitySummary.OrderSentence(order));
        var runs = new List<QualityRun>();
        foreach (int seed in settings.Seeds)
        {
            var split = ValidationSplit.ByUser(data.Train, settings.ValidationFraction, seed);
            if (settings.ValidateOnLastItems)
            {
                split = split.LastPerUser();
            }

            foreach (string model in settings.Models)
            {
                var run = TrainOne(settings, data, split, model, seed);
                runs.Add(run);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{settings.Label} {data.Name} {model} seed {seed}: {(run.Candidates.Count > 1 ? $"chose {run.Chosen} on validation; " : string.Empty)}epoch {run.ChosenEpoch} (validation AUC {run.ValidationAuc:F4}, on last items {run.LastItemsValidationAuc:F4}), test AUC {run.TestAuc:F4}, GAUC {run.TestGauc:F4}, logloss {run.TestLogLoss:F4}, {run.SecondsPerEpoch:F0} s/epoch; " +
                    $"validation AUC by epoch {string.Join(" ", run.ValidationAucs.Select(a => a.ToString("F4", CultureInfo.InvariantCulture)))}; " +
                    $"by history length {string.Join(", ", run.ValidationAucByLength)}"));
                if (settings.JsonLines is { } jsonl)
                {
                    File.AppendAllText(jsonl, JsonSerializer.Serialize(run) + Environment.NewLine);
                }
            }
        }

        return new QualitySet(data.Name, data.Description, runs, order);
    }

    private static QualityRun TrainOne(QualitySettings settings, QualityData data, ValidationSplit split, string kind, int seed)
    {
        // Each candidate of the grid (one, the defaults with any --set, unless --grid is given) is trained on the
        // same split; the one with the best validation AUC is kept, and only it sees the test file.
        var candidates = new List<CandidateFigure>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        Trained? best = null;
        try
        {
            foreach (var candidate in settings.Grid.Candidates)
            {
                var (options, trainerOptions) = OptionsFor(settings, data, kind, seed, candidate);
                // Alpha and the auxiliary loss's settings do not change BaseModel or DIN: train each distinct setting once.
                if (!seen.Add(JsonSerializer.Serialize(options) + JsonSerializer.Serialize(trainerOptions)))
                {
                    continue;
                }

                var trained = Train(settings, data, split, kind, seed, options, trainerOptions);
                candidates.Add(new CandidateFigure(candidate.ToString(), trained.Result.BestMetric, trained.Result.BestEpoch + 1));
                if (settings.Grid.Candidates.Count > 1)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {settings.Label} {data.Name} {kind} seed {seed} candidate {candidate}: validation AUC {trained.Result.BestMetric:F4} (epoch {trained.Result.BestEpoch + 1})"));
                }

                if (best is null || trained.Result.BestMetric > best.Result.BestMetric)
                {
                    best?.Dispose();
                    best = trained with { Name = candidate.ToString() };
                }
                else
                {
                    trained.Dispose();
                }
            }

            return Report(kind, seed, settings, data, split, best!, candidates);
        }
        finally
        {
            best?.Dispose();
        }
    }

    private static (CtrModelOptions Model, TrainerOptions Trainer) OptionsFor(QualitySettings settings, QualityData data, string kind, int seed, SettingCandidate candidate)
    {
        var options = new CtrModelOptions
        {
            ItemVocabularySize = data.Items,
            CategoryVocabularySize = data.Categories,
            UserVocabularySize = data.Users,
        };
        var trainerOptions = new TrainerOptions { Epochs = settings.Epochs, Patience = settings.Patience, Seed = seed };
        foreach (var set in settings.Sets.Candidates)
        {
            set.ApplyTo(options, trainerOptions);
        }

        candidate.ApplyTo(options, trainerOptions);
        if (kind != "dien")
        {
            options.Alpha = 0;
        }

        return (options, trainerOptions);
    }

    private static Trained Train(QualitySettings settings, QualityData data, ValidationSplit split, string kind, int seed, CtrModelOptions options, TrainerOptions trainerOptions)
    {
        torch.manual_seed(seed);
        CtrModel model = kind switch
        {
            "base" => new SumPoolingModel(options),
            "din" => new DinModel(options),
            _ => new DienModel(options),
        };
        var sampler = options.Alpha > 0 ? data.Sampler(settings.Negatives) : null;
        var trainer = new CtrTrainer(model, trainerOptions, new EpochLog($"{settings.Label} {data.Name} {kind} seed {seed}"));
        var clock = Stopwatch.StartNew();
        var result = trainer.Fit(
            epoch => new Batcher(new BatcherOptions
            {
                Shuffle = true,
                BucketByLength = settings.Bucket,
                Seed = seed + epoch,
                NegativeSampler = sampler,
            }).Batches(settings.BufferShuffleOnly ? split.Train.Select(sample => sample) : split.Train).Where(b => b.Size >= 2),
            () => EvaluationBatches(split.Validation));
        double seconds = clock.Elapsed.TotalSeconds;
        if (!result.RestoredBestWeights)
        {
            trainer.Dispose();
            model.Dispose();
            throw new InvalidOperationException($"{kind} seed {seed}: the trainer did not restore the best epoch's weights.");
        }

        return new Trained(string.Empty, model, trainer, result, seconds / Math.Max(1, result.Epochs.Count));
    }

    private static QualityRun Report(string kind, int seed, QualitySettings settings, QualityData data, ValidationSplit split, Trained best, IReadOnlyList<CandidateFigure> candidates)
    {
        var trainer = best.Trainer;
        var result = best.Result;

        // The held-out users' last samples are the test file's distribution; their AUC is reported beside the
        // selecting one because it ranks the models as the test does (docs/results.md).
        double lastItemsAuc = AucOn(trainer, split.LastPerUser().Validation);

        // Where a model wins: the chosen weights on the held-out samples grouped by history length.
        var byLength = new List<LengthBand>();
        foreach (var (low, high) in LengthBands)
        {
            var band = split.Validation.Where(sample => sample.HistoryItems.Length >= low && sample.HistoryItems.Length <= high).ToList();
            double auc = AucOn(trainer, band);
            if (!double.IsNaN(auc))
            {
                byLength.Add(new LengthBand(low, high, band.Count, auc));
            }
        }

        // The test file is scored once, with the weights of the epoch (and candidate) the validation split chose.
        var test = trainer.Evaluate(EvaluationBatches(data.Test));
        return new QualityRun(
            settings.Label, data.Name, kind, seed, best.Name, candidates, result.BestEpoch + 1, result.BestMetric,
            result.Epochs.Select(e => e.Validation!.Auc).ToArray(),
            result.Epochs.Select(e => e.Validation!.LogLoss).ToArray(),
            lastItemsAuc,
            byLength,
            test.Auc, test.GroupAuc, test.LogLoss, best.SecondsPerEpoch);
    }

    /// <summary>A trained candidate, kept while it is the best so far.</summary>
    private sealed record Trained(string Name, CtrModel Model, CtrTrainer Trainer, TrainingResult Result, double SecondsPerEpoch) : IDisposable
    {
        public void Dispose()
        {
            Trainer.Dispose();
            Model.Dispose();
        }
    }

    /// <summary>Scoring batches, sorted by length as the sample's are: in evaluation a row's score does not depend on its batch.</summary>
    private static IEnumerable<BatchArrays> EvaluationBatches(IReadOnlyList<Sample> samples)
        => new Batcher(new BatcherOptions { BatchSize = 512, BucketByLength = true }).Batches(samples);

    /// <summary>The AUC of the trainer's model on <paramref name="samples"/>; NaN unless they hold both labels.</summary>
    private static double AucOn(CtrTrainer trainer, IReadOnlyList<Sample> samples)
        => samples.Select(sample => sample.Label).Distinct().Count() == 2
            ? trainer.Evaluate(EvaluationBatches(samples)).Auc
            : double.NaN;

    /// <summary>Prints the trainer's one line per epoch, so that a long benchmark shows its progress.</summary>
    private sealed class EpochLog(string prefix) : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => logLevel >= Microsoft.Extensions.Logging.LogLevel.Information;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => Console.WriteLine($"  {prefix}: {formatter(state, exception)}");
    }

    /// <summary>What the quality command was asked for.</summary>
    internal sealed record QualitySettings
    {
        /// <summary>The development sets used when <c>--path</c> is not given: both Amazon sets in the authors' format.</summary>
        public static readonly IReadOnlyList<string> DefaultPaths = ["../shared/data/amazon-beauty-dien", "../shared/data/amazon-sports-dien"];

        public IReadOnlyList<string> Paths { get; init; } = DefaultPaths;
        public IReadOnlyList<string> Models { get; init; } = AllModels;
        public IReadOnlyList<int> Seeds { get; init; } = [1, 2, 3];
        public int Epochs { get; init; } = 8;
        public int Patience { get; init; } = 2;
        public double ValidationFraction { get; init; } = 0.1;
        public bool Bucket { get; init; }

        /// <summary>Validate on each held-out user's last samples only (<see cref="ValidationSplit.LastPerUser"/>), as the test file holds.</summary>
        public bool ValidateOnLastItems { get; init; }

        /// <summary>Hand the batcher a lazy stream, which it shuffles only inside its buffer (the first release's behaviour), for the ablation.</summary>
        public bool BufferShuffleOnly { get; init; }
        public NegativeSampling Negatives { get; init; } = NegativeSampling.Popularity;
        public int Threads { get; init; } = 2;
        public string Label { get; init; } = "defaults";
        public string? Output { get; init; }
        public string? JsonLines { get; init; }

        /// <summary>The <c>--set Option=value</c> arguments as written.</summary>
        public IReadOnlyList<string> Overrides { get; init; } = [];

        /// <summary>The <c>--grid Option=value1,value2</c> arguments as written.</summary>
        public IReadOnlyList<string> GridAxes { get; init; } = [];

        /// <summary>The <c>--set</c> options, one candidate applied to every run.</summary>
        public SettingGrid Sets { get; init; } = SettingGrid.Parse();

        /// <summary>The candidates each run chooses among on validation (one, with no settings, without <c>--grid</c>).</summary>
        public SettingGrid Grid { get; init; } = SettingGrid.Parse();

        public static QualitySettings Parse(string[] args)
        {
            var s = new QualitySettings();
            var paths = new List<string>();
            var overrides = new List<string>();
            var grid = new List<string>();
            for (int i = 1; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
                switch (args[i])
                {
                    case "--set": overrides.Add(Value()); continue;
                    case "--grid": grid.Add(Value()); continue;
                    case "--path": paths.AddRange(Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)); continue;
                }

                s = args[i] switch
                {
                    "--models" => s with { Models = List(Value(), m => AllModels.Contains(m) ? m : throw new ArgumentException($"--models: '{m}' is not base, din or dien.")) },
                    "--seeds" => s with { Seeds = List(Value(), v => Read<int>(args[i - 1], v)) },
                    "--epochs" => s with { Epochs = Read<int>(args[i], Value()) },
                    "--patience" => s with { Patience = Read<int>(args[i], Value()) },
                    "--validation-fraction" => s with { ValidationFraction = Read<double>(args[i], Value()) },
                    "--validation" => s with { ValidateOnLastItems = Value() switch { "last" => true, "all" => false, var v => throw new ArgumentException($"--validation {v}: expected all or last.") } },
                    "--bucket" => s with { Bucket = Read<bool>(args[i], Value()) },
                    "--shuffle" => s with { BufferShuffleOnly = Value() switch { "buffer" => true, "whole" => false, var v => throw new ArgumentException($"--shuffle {v}: expected whole or buffer.") } },
                    "--negatives" => s with { Negatives = Read<NegativeSampling>(args[i], Value()) },
                    "--threads" => s with { Threads = Read<int>(args[i], Value()) },
                    "--label" => s with { Label = Value() },
                    "--output" => s with { Output = Value() },
                    "--jsonl" => s with { JsonLines = Value() },
                    _ => throw new ArgumentException($"quality: unknown argument '{args[i]}'."),
                };
            }

            // --set takes one value per option; --grid may take several. Both are read (and checked) before any data.
            var sets = SettingGrid.Parse(overrides);
            if (sets.Candidates.Count != 1)
            {
                throw new ArgumentException($"--set {string.Join(" ", overrides.Where(o => o.Contains(',', StringComparison.Ordinal)))}: --set takes one value per option; use --grid to choose among several on validation.");
            }

            return s with
            {
                Paths = paths.Count > 0 ? paths : DefaultPaths,
                Overrides = overrides,
                GridAxes = grid,
                Sets = sets,
                Grid = SettingGrid.Parse(grid),
            };
        }

        /// <summary>Reads a flag's value as <typeparamref name="T"/>; one that does not read names the flag and the value.</summary>
        internal static T Read<T>(string flag, string text)
        {
            try
            {
                return typeof(T).IsEnum ? (T)Enum.Parse(typeof(T), text, ignoreCase: true) : (T)System.Convert.ChangeType(text, typeof(T), CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is FormatException or InvalidCastException or OverflowException or ArgumentException)
            {
                string expected = typeof(T).IsEnum ? string.Join(", ", Enum.GetNames(typeof(T))) : typeof(T).Name;
                throw new ArgumentException($"{flag} '{text}': expected {expected}.", e);
            }
        }

        /// <summary>Reads a list separated by commas (or dashes), each element with <paramref name="parse"/>.</summary>
        internal static IReadOnlyList<T> List<T>(string text, Func<string, T> parse)
            => text.Split([',', '-'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(parse).ToArray();
    }
}

/// <summary>Every run on one data set.</summary>
/// <param name="Name">A short name of the set (the folder's name).</param>
/// <param name="Description">What the data is, for the document.</param>
/// <param name="Runs">One run per model and seed.</param>
/// <param name="Order">The training file's order signal.</param>
internal sealed record QualitySet(string Name, string Description, IReadOnlyList<QualityRun> Runs, OrderSignalReport Order);

/// <summary>One candidate's validation figure in a run that chose among several.</summary>
internal sealed record CandidateFigure(string Settings, double ValidationAuc, int Epoch);

/// <summary>One model trained with one seed.</summary>
internal sealed record QualityRun(
    string Label,
    string Set,
    string Model,
    int Seed,
    string Chosen,
    IReadOnlyList<CandidateFigure> Candidates,
    int ChosenEpoch,
    double ValidationAuc,
    double[] ValidationAucs,
    double[] ValidationLogLosses,
    double LastItemsValidationAuc,
    IReadOnlyList<LengthBand> ValidationAucByLength,
    double TestAuc,
    double TestGauc,
    double TestLogLoss,
    double SecondsPerEpoch);

/// <summary>The validation AUC of the samples whose history length is in [Low, High].</summary>
internal sealed record LengthBand(int Low, int High, int Samples, double Auc)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Low}{(High == int.MaxValue ? "+" : $"-{High}")}: {Auc:F4} ({Samples:N0})");
}
