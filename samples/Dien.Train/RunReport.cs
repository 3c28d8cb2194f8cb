using System.Globalization;
using System.Text.Json;
using Dien.Training;
using Spectre.Console;

namespace Dien.Train;

/// <summary>What a training run measured, as a console table and as metrics.json.</summary>
internal sealed record RunReport(
    TrainSettings Settings,
    string Data,
    TrainingResult Result,
    IReadOnlyDictionary<int, double> SamplesPerSecond,
    IReadOnlyDictionary<int, double> Seconds,
    TimeSpan Elapsed,
    string Checkpoint)
{
    public void WriteTable()
    {
        var table = new Table().Title("per epoch").AddColumns("epoch", "train loss", "lr", "AUC", "GAUC", "logloss", "samples/s", "seconds");
        foreach (var epoch in Result.Epochs)
        {
            var v = epoch.Validation;
            table.AddRow(
                (epoch.Epoch + 1).ToString(CultureInfo.InvariantCulture),
                F(epoch.TrainingLoss), epoch.LearningRate.ToString("G3", CultureInfo.InvariantCulture),
                F(v?.Auc), F(v?.GroupAuc), F(v?.LogLoss),
                SamplesPerSecond.TryGetValue(epoch.Epoch, out double s) ? s.ToString("N0", CultureInfo.InvariantCulture) : "-",
                Seconds.TryGetValue(epoch.Epoch, out double t) ? t.ToString("F1", CultureInfo.InvariantCulture) : "-");
        }

        AnsiConsole.Write(table);
    }

    /// <summary>Writes metrics.json and returns its path.</summary>
    public string WriteJson(string path)
    {
        var document = new
        {
            settings = Settings,
            data = Data,
            elapsedSeconds = Math.Round(Elapsed.TotalSeconds, 1),
            bestEpoch = Result.BestEpoch + 1,
            bestAuc = Result.BestMetric,
            stoppedEarly = Result.StoppedEarly,
            cancelled = Result.Cancelled,
            checkpoint = Path.GetFullPath(Checkpoint),
            epochs = Result.Epochs.Select(e => new
            {
                epoch = e.Epoch + 1,
                trainLoss = e.TrainingLoss,
                learningRate = e.LearningRate,
                auc = e.Validation?.Auc,
                gauc = e.Validation?.GroupAuc,
                logLoss = e.Validation?.LogLoss,
                samplesPerSecond = SamplesPerSecond.TryGetValue(e.Epoch, out double s) ? s : (double?)null,
                seconds = Seconds.TryGetValue(e.Epoch, out double t) ? t : (double?)null,
            }),
        };
        var json = new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };
        json.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter());
        File.WriteAllText(path, JsonSerializer.Serialize(document, json));
        return path;
    }

    private static string F(double? value) => value is double v && !double.IsNaN(v) ? v.ToString("F4", CultureInfo.InvariantCulture) : "-";
}
