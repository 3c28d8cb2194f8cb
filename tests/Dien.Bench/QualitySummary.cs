using System.Globalization;
using System.Text;
using Dien.Diagnostics;

namespace Dien.Bench;

/// <summary>
/// Mean and standard error over seeds of each model's figures on each data set, their mean over the sets, and the
/// paired leads of DIEN over DIN and of each model over BaseModel; as console tables and as a Markdown section.
/// </summary>
internal sealed class QualitySummary(QualityBenchmark.QualitySettings settings, IReadOnlyList<QualitySet> sets)
{
    /// <summary>One sentence on the training file's order signal (docs/results.md, "How much order there is to model").</summary>
    public static string OrderSentence(OrderSignalReport order) => FormattableString.Invariant(
        $"The training file's order signal (Dien.Diagnostics.OrderSignal): order features lift a logistic model on held-out users from {order.SetAuc:F4} to {order.OrderedAuc:F4} AUC ({order.Gain:+0.0000;-0.0000}; on their last samples {order.LastGain:+0.0000;-0.0000}): a simple measure of what DIEN's interest evolution can add over DIN's order-free pooling.");

    /// <summary>A table per set, then (with several sets) the mean over the sets, then the paired leads.</summary>
    public string Tables()
    {
        var text = new StringBuilder();
        foreach (var set in sets)
        {
            text.AppendLine($"{set.Name}:");
            text.AppendLine();
            text.AppendLine("| model | seeds | test AUC | test GAUC | test logloss | validation AUC | last-item validation AUC | epoch chosen | s/epoch |" + (HasGrid ? " chosen on validation |" : string.Empty));
            text.AppendLine("|---|---|---|---|---|---|---|---|---|" + (HasGrid ? "---|" : string.Empty));
            foreach (var group in set.Runs.GroupBy(r => r.Model))
            {
                var runs = group.ToList();
                string grid = HasGrid ? $" {string.Join("; ", runs.Select(r => r.Chosen))} |" : string.Empty;
                text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {Name(group.Key)} | {runs.Count} | {Stat.Of(runs.Select(r => r.TestAuc))} | {Stat.Of(runs.Select(r => r.TestGauc))} | {Stat.Of(runs.Select(r => r.TestLogLoss))} | {Stat.Of(runs.Select(r => r.ValidationAuc))} | {Stat.Of(runs.Select(r => r.LastItemsValidationAuc))} | {string.Join(", ", runs.Select(r => r.ChosenEpoch))} | {runs.Average(r => r.SecondsPerEpoch):F0} |{grid}"));
            }

            text.AppendLine();
        }

        if (sets.Count > 1)
        {
            text.AppendLine($"mean over the {sets.Count} sets (each set's mean over its seeds, then their mean):");
            text.AppendLine();
            text.AppendLine("| model | test AUC | test logloss | validation AUC | last-item validation AUC | test-free figure (mean of the two validation AUCs) |");
            text.AppendLine("|---|---|---|---|---|---|");
            foreach (string model in sets.SelectMany(s => s.Runs).Select(r => r.Model).Distinct())
            {
                double Mean(Func<QualityRun, double> figure) => sets.Where(s => s.Runs.Any(r => r.Model == model)).Average(s => s.Runs.Where(r => r.Model == model).Average(figure));
                text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {Name(model)} | {Mean(r => r.TestAuc):F4} | {Mean(r => r.TestLogLoss):F4} | {Mean(r => r.ValidationAuc):F4} | {Mean(r => r.LastItemsValidationAuc):F4} | {Mean(r => (r.ValidationAuc + r.LastItemsValidationAuc) / 2):F4} |"));
            }

            text.AppendLine();
        }

        string[] leads = [.. Leads("dien", "din"), .. Leads("din", "base"), .. Leads("dien", "base")];
        if (leads.Length > 0)
        {
            text.AppendLine("paired by seed (mean +- standard error of the per-seed differences):");
            text.AppendLine();
            text.AppendLine("| set | lead | test AUC | validation AUC | last-item validation AUC |");
            text.AppendLine("|---|---|---|---|---|");
            foreach (string lead in leads)
            {
                text.AppendLine(lead);
            }
        }

        return text.ToString();
    }

    /// <summary>The section docs/results.md holds: the command, the protocol, the tables and each set's order signal.</summary>
    public string Markdown()
    {
        var s = settings;
        var text = new StringBuilder();
        text.AppendLine("Written by the quality benchmark:");
        text.AppendLine();
        text.AppendLine("```");
        text.AppendLine($"dotnet run -c Release --project tests/Dien.Bench -- quality --path {string.Join(",", s.Paths)} --seeds {string.Join(",", s.Seeds)}" +
                        string.Concat(s.Overrides.Select(o => $" --set {o}")) + string.Concat(s.GridAxes.Select(o => $" --grid {o}")));
        text.AppendLine("```");
        text.AppendLine();
        text.AppendLine(FormattableString.Invariant(
            $"Each model on the library's defaults{(s.Overrides.Count > 0 ? " with the options set above" : string.Empty)}, one run per seed. {s.ValidationFraction:P0} of the training users ") +
            FormattableString.Invariant($"are held out (seeded by the run's seed) to choose the epoch (at most {s.Epochs}, early stop after {s.Patience} without a better validation AUC)") +
            (HasGrid ? " and the candidate of the grid" : string.Empty) +
            "; the test file is scored once, with the chosen weights. The last-item validation AUC scores those weights on each held-out user's " +
            "last samples only, the test file's distribution. Figures are mean +- standard error over the seeds; " +
            FormattableString.Invariant($"seconds per epoch on {Environment.ProcessorCount} cores with {s.Threads} torch threads, on {DateTime.UtcNow:yyyy-MM-dd}."));
        text.AppendLine();
        text.Append(Tables());
        text.AppendLine();
        foreach (var set in sets)
        {
            text.AppendLine($"{set.Name}: {OrderSentence(set.Order)}");
            text.AppendLine();
        }

        return text.ToString();
    }

    private bool HasGrid => settings.Grid.Candidates.Count > 1;

    /// <summary>One row per set (and the mean over sets) of <paramref name="model"/>'s lead over <paramref name="over"/>, paired by seed.</summary>
    private IEnumerable<string> Leads(string model, string over)
    {
        var perSet = new List<(double Test, double Validation, double Last)>();
        foreach (var set in sets)
        {
            var pairs = set.Runs.Where(r => r.Model == model)
                .Join(set.Runs.Where(r => r.Model == over), r => r.Seed, r => r.Seed, (a, b) => (Test: a.TestAuc - b.TestAuc, Validation: a.ValidationAuc - b.ValidationAuc, Last: a.LastItemsValidationAuc - b.LastItemsValidationAuc))
                .ToList();
            if (pairs.Count == 0)
            {
                continue;
            }

            perSet.Add((pairs.Average(p => p.Test), pairs.Average(p => p.Validation), pairs.Average(p => p.Last)));
            yield return string.Create(CultureInfo.InvariantCulture,
                $"| {set.Name} | {Name(model)} - {Name(over)} | {Stat.Of(pairs.Select(p => p.Test)).Signed()} | {Stat.Of(pairs.Select(p => p.Validation)).Signed()} | {Stat.Of(pairs.Select(p => p.Last)).Signed()} |");
        }

        if (perSet.Count > 1)
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"| mean over sets | {Name(model)} - {Name(over)} | {perSet.Average(p => p.Test):+0.0000;-0.0000} | {perSet.Average(p => p.Validation):+0.0000;-0.0000} | {perSet.Average(p => p.Last):+0.0000;-0.0000} |");
        }
    }

    private static string Name(string model) => model switch { "base" => "BaseModel", "din" => "DIN", _ => "DIEN" };

    /// <summary>Mean and standard error of the mean.</summary>
    private sealed record Stat(double Mean, double StandardError)
    {
        public static Stat Of(IEnumerable<double> values)
        {
            var v = values.ToArray();
            double mean = v.Average();
            double se = v.Length < 2 ? double.NaN : Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1) / v.Length);
            return new Stat(mean, se);
        }

        public string Signed() => double.IsNaN(StandardError)
            ? Mean.ToString("+0.0000;-0.0000", CultureInfo.InvariantCulture)
            : string.Create(CultureInfo.InvariantCulture, $"{Mean:+0.0000;-0.0000} +- {StandardError:F4}");

        public override string ToString() => double.IsNaN(StandardError)
            ? Mean.ToString("F4", CultureInfo.InvariantCulture)
            : string.Create(CultureInfo.InvariantCulture, $"{Mean:F4} +- {StandardError:F4}");
    }
}
