using Dien.Diagnostics;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Dien.Data;
using Dien.Data.Batching;
using Dien.Data.Formats;
using Dien.Model;
using Dien.Training;
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
        Console.WriteLine($"quality: {settings.Path}, models {string.Join(",", settings.Models)}, seeds {string.Join(",", settings.Seeds)}, " +
                          $"up to {settings.Epochs} epochs (patience {settings.Patience}), validation {settings.ValidationFraction:P0} of the training users{(settings.ValidateOnLastItems ? " (their last samples)" : string.Empty)}" +
                          (settings.Overrides.Count > 0 ? $", set {string.Join(" ", settings.Overrides.Select(o => $"{o.Key}={o.Value}"))}" : string.Empty));
        var clock = Stopwatch.StartNew();
        var data = QualityData.Load(settings.Path);
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
                    $"{settings.Label} {model} seed {seed}: epoch {run.ChosenEpoch} (validation AUC {run.ValidationAuc:F4}, on last items {run.LastItemsValidationAuc:F4}), test AUC {run.TestAuc:F4}, GAUC {run.TestGauc:F4}, logloss {run.TestLogLoss:F4}, {run.SecondsPerEpoch:F0} s/epoch; " +
                    $"validation AUC by epoch {string.Join(" ", run.ValidationAucs.Select(a => a.ToString("F4", CultureInfo.InvariantCulture)))}; " +
                    $"by history length {string.Join(", ", run.ValidationAucByLength)}"));
                if (settings.JsonLines is { } jsonl)
                {
                    File.AppendAllText(jsonl, JsonSerializer.Serialize(run) + Environment.NewLine);
                }
            }
        }

        var summary = QualitySummary.From(settings, runs, order);
        Console.WriteLine();
        Console.WriteLine(summary.Table());
        if (settings.Output is { } output)
        {
            File.WriteAllText(output, summary.Markdown());
            Console.WriteLine($"wrote {Path.GetFullPath(output)}");
        }
    }

    private static QualityRun TrainOne(QualitySettings settings, QualityData data, ValidationSplit split, string kind, int seed)
    {
        torch.manual_seed(seed);
        var options = new DienOptions
        {
            ItemVocabularySize = data.Items,
            CategoryVocabularySize = data.Categories,
            UserVocabularySize = data.Users,
        };
        var trainerOptions = new TrainerOptions { Epochs = settings.Epochs, Patience = settings.Patience, Seed = seed };
        settings.Apply(options, trainerOptions);
        if (kind != "dien")
        {
            options.Alpha = 0;
        }

        using CtrModel model = kind switch
        {
            "base" => new BaseModel(options),
            "din" => new DinModel(options),
            _ => new DienModel(options),
        };
        var sampler = options.Alpha > 0 ? data.Sampler(settings.Negatives) : null;
        using var trainer = new DienTrainer(model, trainerOptions, new EpochLog($"{settings.Label} {kind} seed {seed}"));
        var clock = Stopwatch.StartNew();
        var result = trainer.Fit(
            epoch => new Batcher(new BatcherOptions
            {
                Shuffle = true,
                BucketByLength = settings.Bucket,
                Seed = seed + epoch,
                NegativeSampler = sampler,
            }).Batches(settings.BufferShuffleOnly ? split.Train.Select(sample => sample) : split.Train).Where(b => b.Size >= 2),
            () => new Batcher(new BatcherOptions { BatchSize = 512 }).Batches(split.Validation));
        double seconds = clock.Elapsed.TotalSeconds;
        if (!result.RestoredBestWeights)
        {
            throw new InvalidOperationException($"{kind} seed {seed}: the trainer did not restore the best epoch's weights.");
        }

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

        // The test file is scored once, with the weights of the epoch the validation split chose.
        var test = trainer.Evaluate(new Batcher(new BatcherOptions { BatchSize = 512 }).Batches(data.Test));
        return new QualityRun(
            settings.Label, kind, seed, result.BestEpoch + 1, result.BestMetric,
            result.Epochs.Select(e => e.Validation!.Auc).ToArray(),
            result.Epochs.Select(e => e.Validation!.LogLoss).ToArray(),
            lastItemsAuc,
            byLength,
            test.Auc, test.GroupAuc, test.LogLoss, seconds / Math.Max(1, result.Epochs.Count));
    }

    /// <summary>The AUC of the trainer's model on <paramref name="samples"/>; NaN unless they hold both labels.</summary>
    private static double AucOn(DienTrainer trainer, IReadOnlyList<Sample> samples)
        => samples.Select(sample => sample.Label).Distinct().Count() == 2
            ? trainer.Evaluate(new Batcher(new BatcherOptions { BatchSize = 512 }).Batches(samples)).Auc
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
        public string Path { get; init; } = "../shared/data/amazon-beauty-dien";
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
        public NegativeSampling Negatives { get; init; } = NegativeSampling.Uniform;
        public int Threads { get; init; } = 2;
        public string Label { get; init; } = "defaults";
        public string? Output { get; init; }
        public string? JsonLines { get; init; }
        public IReadOnlyList<KeyValuePair<string, string>> Overrides { get; init; } = [];

        public static QualitySettings Parse(string[] args)
        {
            var s = new QualitySettings();
            var overrides = new List<KeyValuePair<string, string>>();
            for (int i = 1; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
                if (args[i] == "--set")
                {
                    string pair = Value();
                    int eq = pair.IndexOf('=', StringComparison.Ordinal);
                    overrides.Add(eq > 0 ? new(pair[..eq], pair[(eq + 1)..]) : throw new ArgumentException($"--set {pair}: expected Option=value."));
                    continue;
                }

                s = args[i] switch
                {
                    "--path" => s with { Path = Value() },
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

            return s with { Overrides = overrides };
        }

        /// <summary>Sets each <c>--set</c> option on the model's or the trainer's options, by property name.</summary>
        public void Apply(DienOptions model, TrainerOptions trainer)
        {
            foreach (var (name, text) in Overrides)
            {
                object target = model;
                var property = typeof(DienOptions).GetProperty(name, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
                if (property is null)
                {
                    target = trainer;
                    property = typeof(TrainerOptions).GetProperty(name, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
                }

                if (property is null || !property.CanWrite)
                {
                    throw new ArgumentException($"--set {name}: no settable option of that name in DienOptions or TrainerOptions.");
                }

                property.SetValue(target, Convert(text, property.PropertyType, $"--set {name}"));
            }
        }

        /// <summary>Reads a flag's value as <typeparamref name="T"/>; one that does not read names the flag and the value.</summary>
        internal static T Read<T>(string flag, string text) => (T)Convert(text, typeof(T), flag)!;

        /// <summary>Reads <paramref name="text"/> as <paramref name="type"/>; a value that does not read names the flag and the value.</summary>
        private static object? Convert(string text, Type type, string flag)
        {
            var inner = Nullable.GetUnderlyingType(type);
            if (inner is not null)
            {
                return text == "null" ? null : Convert(text, inner, flag);
            }

            try
            {
                if (type.IsEnum)
                {
                    return Enum.Parse(type, text, ignoreCase: true);
                }

                if (type == typeof(IList<int>))
                {
                    return text.Length == 0 ? new List<int>() : List(text, v => int.Parse(v, CultureInfo.InvariantCulture)).ToList();
                }

                return System.Convert.ChangeType(text, type, CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is FormatException or InvalidCastException or OverflowException or ArgumentException)
            {
                string expected = type.IsEnum ? string.Join(", ", Enum.GetNames(type)) : type == typeof(IList<int>) ? "whole numbers separated by , or -" : type.Name;
                throw new ArgumentException($"{flag} '{text}': expected {expected}.", e);
            }
        }

        /// <summary>Reads a list separated by commas (or dashes), each element with <paramref name="parse"/>.</summary>
        internal static IReadOnlyList<T> List<T>(string text, Func<string, T> parse)
            => text.Split([',', '-'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(parse).ToArray();
    }
}

/// <summary>One model trained with one seed.</summary>
internal sealed record QualityRun(
    string Label,
    string Model,
    int Seed,
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
