using Dien.Metrics;

namespace Dien.Checkpoints;

/// <summary>Where training stood when a checkpoint was written (the optimizer's moments are stored beside it).</summary>
public sealed class TrainingState
{
    /// <summary>Epochs completed.</summary>
    public int CompletedEpochs { get; set; }

    /// <summary>Epoch with the best monitored metric, -1 when none.</summary>
    public int BestEpoch { get; set; } = -1;

    /// <summary>The best monitored metric so far, NaN when none.</summary>
    public double BestMetric { get; set; } = double.NaN;

    /// <summary>Epochs since the best one (for patience).</summary>
    public int EpochsWithoutImprovement { get; set; }

    /// <summary>The run's seed (epoch e reseeds torch with Seed + e, which is all the RNG state a resume needs).</summary>
    public long Seed { get; set; }

    /// <summary>The monitored metric.</summary>
    public MetricKind MonitorMetric { get; set; }
}
