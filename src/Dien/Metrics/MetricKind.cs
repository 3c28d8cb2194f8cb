namespace Dien.Metrics;

/// <summary>A metric the trainer can monitor for early stopping and best-checkpoint selection.</summary>
public enum MetricKind
{
    /// <summary>AUC, higher is better.</summary>
    Auc,

    /// <summary>Group (per-user) AUC, higher is better.</summary>
    GroupAuc,

    /// <summary>Log loss, lower is better.</summary>
    LogLoss,
}
