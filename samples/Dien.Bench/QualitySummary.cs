using System.Globalization;
using System.Text;
using Dien.Diagnostics;

namespace Dien.Bench;

/// <summary>Mean and standard error over seeds of each model's figures, as a console table and as docs/results.md.</summary>
internal sealed class QualitySummary
{
    private readonly QualityBenchmark.QualitySettings _settings;
    private readonly IReadOnlyList<Row> _rows;
    private readonly OrderSignalReport _order;

    private QualitySummary(QualityBenchmark.QualitySettings settings, IReadOnlyList<Row> rows, OrderSignalReport order)
    {
        _settings = settings;
        _rows = rows;
        _order = order;
    }

    /// <summary>One sentence on the training file's order signal (docs/results.md, "How much order there is to model").</summary>
    public static string OrderSentence(OrderSignalReport order) => FormattableString.Invariant(
        $"The training file's order signal (Dien.Diagnostics.OrderSignal): order features lift a logistic model on held-out users from {order.SetAuc:F4} to {order.OrderedAuc:F4} AUC ({order.Gain:+0.0000;-0.0000}; on their last samples {order.LastGain:+0.0000;-0.0000}): a simple measure of what DIEN's interest evolution can add over DIN's order-free pooling.");

    public static QualitySummary From(QualityBenchmark.QualitySettings settings, IReadOnlyList<QualityRun> runs, OrderSignalReport order)
    {
        var rows = runs.GroupBy(r => r.Model).Select(g => new Row(
            g.Key,
            g.Count(),
            Stat.Of(g.Select(r => r.ValidationAuc)),
            Stat.Of(g.Select(r => r.LastItemsValidationAuc)),
            Stat.Of(g.Select(r => r.TestAuc)),
            Stat.Of(g.Select(r => r.TestGauc)),
            Stat.Of(g.Select(r => r.TestLogLoss)),
            string.Join(", ", g.Select(r => r.ChosenEpoch.ToString(CultureInfo.InvariantCulture))),
            g.Average(r => r.SecondsPerEpoch))).ToList();
        return new QualitySummary(settings, rows, order);
    }

    public string Table()
    {
        var text = new StringBuilder();
        text.AppendLine("| model | seeds | validation AUC | last-item validation AUC | test AUC | test GAUC | test logloss | epoch chosen | s/epoch |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var row in _rows)
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {Name(row.Model)} | {row.Seeds} | {row.ValidationAuc} | {row.LastItemsAuc} | {row.Auc} | {row.Gauc} | {row.LogLoss} | {row.Epochs} | {row.SecondsPerEpoch:F0} |"));
        }

        return text.ToString();
    }

    public string Markdown()
    {
        var s = _settings;
        var text = new StringBuilder();
        text.AppendLine("# Quality: test figures of the three models");
        text.AppendLine();
        text.AppendLine("Written by the quality benchmark:");
        text.AppendLine();
        text.AppendLine("```");
        text.AppendLine($"dotnet run -c Release --project samples/Dien.Bench -- quality --path {s.Path} --seeds {string.Join(",", s.Seeds)} --output docs/results.md" +
                        string.Concat(s.Overrides.Select(o => $" --set {o.Key}={o.Value}")));
        text.AppendLine("```");
        text.AppendLine();
        text.AppendLine(FormattableString.Invariant(
            $"Each model on the library's defaults{(s.Overrides.Count > 0 ? " with the options set above" : string.Empty)}, one run per seed. {s.ValidationFraction:P0} of the training users ") +
            FormattableString.Invariant($"are held out (seeded by the run's seed) to choose the epoch (at most {s.Epochs}, early stop after {s.Patience} without a better validation AUC); ") +
            "the test file is scored once, with the chosen epoch's weights. The last-item validation AUC scores those weights on each held-out user's " +
            "last samples only, the test file's distribution. Figures are mean +- standard error over the seeds; " +
            FormattableString.Invariant($"seconds per epoch on {Environment.ProcessorCount} cores with {s.Threads} torch threads, on {DateTime.UtcNow:yyyy-MM-dd}."));
        text.AppendLine();
        text.Append(Table());
        text.AppendLine();
        text.AppendLine(OrderSentence(_order));
        return text.ToString();
    }

    private static string Name(string model) => model switch { "base" => "BaseModel", "din" => "DIN", _ => "DIEN" };

    private sealed record Row(string Model, int Seeds, Stat ValidationAuc, Stat LastItemsAuc, Stat Auc, Stat Gauc, Stat LogLoss, string Epochs, double SecondsPerEpoch);

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

        public override string ToString() => double.IsNaN(StandardError)
            ? Mean.ToString("F4", CultureInfo.InvariantCulture)
            : string.Create(CultureInfo.InvariantCulture, $"{Mean:F4} +- {StandardError:F4}");
    }
}
