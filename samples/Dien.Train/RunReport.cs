using System.Globalization;
using System.Text.Json;
using Dien.Metrics;
using Dien.Training;
using Spectre.Console;

namespace Dien.Train;

/// <summary>Which data picked the epoch, and how the training file was divided for it.</summary>
/// <param name="SelectedOn">"validation" (held-out training users) or "test" (no validation split: the test file picked the epoch).</param>
/// <param name="ValidationUsers">Users held out for validation.</param>
/// <param name="ValidationSamples">Their samples.</param>
/// <param name="TrainSamples">Samples trained on.</param>
internal sealed record SelectionFigures(string SelectedOn, int ValidationUsers, int ValidationSamples, int TrainSamples);

/// <summary>What a training run measured, as a console table and as metrics.json.</summary>
internal sealed record RunReport(
    TrainSettings Settings,
    string Data,
    TrainingResult Result,
    IReadOnlyDictionary<int, double> SamplesPerSecond,
    IReadOnlyDictionary<int, double> Seconds,
    TimeSpan Elapsed,
    string Checkpoint,
    SelectionFigures Selection,
    EvaluationResult? Test)
{
    public void WriteTable()
    {
        // Short headers, so that the table fits 80 columns; the title says what "val" is.
        var (on, prefix) = Selection.SelectedOn == "test" ? ("the test file", "test") : ("validation users", "val");
        var table = new Table().Title($"per epoch (AUC, GAUC, logloss on {on})")
            .AddColumns("epoch", "train loss", "lr", $"{prefix} AUC", $"{prefix} GAUC", $"{prefix} logloss", "samples/s", "seconds");
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
            selectedOn = Selection.SelectedOn,
            validationUsers = Selection.ValidationUsers,
            validationSamples = Selection.ValidationSamples,
            trainSamples = Selection.TrainSamples,
            bestEpoch = Result.BestEpoch + 1,
            bestValidationAuc = Result.BestMetric,
            restoredBestWeights = Result.RestoredBestWeights,
            testAuc = Test?.Auc,
            testGauc = Test?.GroupAuc,
            testLogLoss = Test?.LogLoss,
            stoppedEarly = Result.StoppedEarly,
            cancelled = Result.Cancelled,
            checkpoint = Path.GetFullPath(Checkpoint),
            epochs = Result.Epochs.Select(e => new
            {
                epoch = e.Epoch + 1,
                trainLoss = e.TrainingLoss,
                learningRate = e.LearningRate,
                validationAuc = e.Validation?.Auc,
                validationGauc = e.Validation?.GroupAuc,
                validationLogLoss = e.Validation?.LogLoss,
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
