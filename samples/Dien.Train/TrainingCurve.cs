using Dien.Training;

namespace Dien.Train;

/// <summary>Draws training loss and validation logloss and AUC per epoch into a PNG.</summary>
internal static class TrainingCurve
{
    /// <summary>Writes the plot and returns its path.</summary>
    /// <param name="result">The run's epochs.</param>
    /// <param name="path">The PNG to write.</param>
    /// <param name="evaluatedOn">What the per-epoch figures were computed on: "validation", or "test" when the test file picked the epoch.</param>
    public static string Write(TrainingResult result, string path, string evaluatedOn)
    {
        double[] epochs = result.Epochs.Select(e => (double)(e.Epoch + 1)).ToArray();
        var plot = new ScottPlot.Plot();
        var train = plot.Add.Scatter(epochs, result.Epochs.Select(e => e.TrainingLoss).ToArray());
        train.LegendText = "train loss (target + alpha * aux)";
        var logLoss = plot.Add.Scatter(epochs, result.Epochs.Select(e => e.Validation?.LogLoss ?? double.NaN).ToArray());
        logLoss.LegendText = $"{evaluatedOn} logloss";
        var auc = plot.Add.Scatter(epochs, result.Epochs.Select(e => e.Validation?.Auc ?? double.NaN).ToArray());
        auc.LegendText = $"{evaluatedOn} AUC (right axis)";
        auc.Axes.YAxis = plot.Axes.Right;
        plot.Axes.Right.Label.Text = "AUC";
        plot.Axes.Left.Label.Text = "loss";
        plot.Axes.Bottom.Label.Text = "epoch";
        plot.Title($"Dien.NET training (epoch picked on {evaluatedOn} data)");
        plot.ShowLegend();
        plot.SavePng(path, 800, 500);
        return path;
    }
}
