using System.Text.Json.Serialization;
using Dien.Metrics;

namespace Dien.Checkpoints;

/// <summary>Where training stood when a checkpoint was written (the optimizer's moments are stored beside it).</summary>
internal sealed class TrainingState
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

    /// <summary>
    /// Batches of epoch <see cref="CompletedEpochs"/> already taken when training was cancelled inside it (0 at an
    /// epoch's end); a resumed trainer continues with the next one.
    /// </summary>
    public int BatchesIntoEpoch { get; set; }

    /// <summary>Sum of batch loss x batch size over those batches (for the epoch's mean loss).</summary>
    [JsonInclude]
    internal double PartialLossSum { get; set; }

    /// <summary>Samples in those batches.</summary>
    [JsonInclude]
    internal long PartialSamples { get; set; }

    /// <summary>torch's default generator state when training was cancelled inside an epoch (null otherwise).</summary>
    [JsonInclude]
    internal byte[]? GeneratorState { get; set; }
}
