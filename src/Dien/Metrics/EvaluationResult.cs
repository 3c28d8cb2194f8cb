namespace Dien.Metrics;

/// <summary>The metrics of one evaluation pass.</summary>
/// <param name="Auc">Exact AUC (NaN when the labels are of one class).</param>
/// <param name="GroupAuc">Impression-weighted per-user AUC (NaN when no user has both classes).</param>
/// <param name="LogLoss">Clipped mean log loss.</param>
/// <param name="Samples">Number of rows evaluated.</param>
public sealed record EvaluationResult(double Auc, double GroupAuc, double LogLoss, long Samples)
{
    /// <summary>The value of <paramref name="metric"/> in this result.</summary>
    /// <param name="metric">Which metric.</param>
    /// <returns>The metric's value.</returns>
    public double Get(MetricKind metric) => metric switch
    {
        MetricKind.Auc => Auc,
        MetricKind.GroupAuc => GroupAuc,
        MetricKind.LogLoss => LogLoss,
        _ => throw new ArgumentOutOfRangeException(nameof(metric), metric, "Unknown metric."),
    };
}
