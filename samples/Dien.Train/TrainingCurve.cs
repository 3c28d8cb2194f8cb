using Dien.Training;

namespace Dien.Train;

/// <summary>Draws loss and AUC per epoch into a PNG.</summary>
internal static class TrainingCurve
{
    /// <summary>Writes the plot and returns its path.</summary>
    public static string Write(TrainingResult result, string path)
    {
        double[] epochs = result.Epochs.Select(e => (double)(e.Epoch + 1)).ToArray();
        var plot = new ScottPlot.Plot();
        var train = plot.Add.Scatter(epochs, result.Epochs.Select(e => e.TrainingLoss).ToArray());
        train.LegendText = "train loss (target + alpha * aux)";
        var test = plot.Add.Scatter(epochs, result.Epochs.Select(e => e.Validation?.LogLoss ?? double.NaN).ToArray());
        test.LegendText = "test logloss";
        var auc = plot.Add.Scatter(epochs, result.Epochs.Select(e => e.Validation?.Auc ?? double.NaN).ToArray());
        auc.LegendText = "test AUC (right axis)";
        auc.Axes.YAxis = plot.Axes.Right;
        plot.Axes.Right.Label.Text = "AUC";
        plot.Axes.Left.Label.Text = "loss";
        plot.Axes.Bottom.Label.Text = "epoch";
        plot.Title("Dien.NET training");
        plot.ShowLegend();
        plot.SavePng(path, 800, 500);
        return path;
    }
}
