using Dien.Checkpoints;
using Dien.Metrics;
using Dien.Model;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace Dien.Training;

/// <summary>
/// The trainer's memory of its best epoch: which epoch has the best validation figure so far (by
/// <see cref="TrainerOptions.MonitorMetric"/>), how many epochs have passed without improvement and so whether
/// <see cref="TrainerOptions.Patience"/> says stop, and, with <see cref="TrainerOptions.RestoreBestWeights"/>, a copy
/// of the best epoch's weights to give back to the model at the end.
/// </summary>
/// <remarks>
/// Reads the options when it uses them, as the trainer does. Epochs count from 0. The copy of the weights is detached
/// clones of the model's state dict on the model's device, out of any dispose scope; it is held from an improvement
/// until the next one, <see cref="Resume"/> or <see cref="Dispose"/>.
/// </remarks>
internal sealed class BestEpochTracker : IDisposable
{
    private readonly CtrModel _model;
    private readonly TrainerOptions _options;
    private readonly ILogger _logger;

    // The model's state dict at BestEpoch; null before the first improvement seen by this tracker (also after Resume).
    private Dictionary<string, Tensor>? _bestWeights;

    /// <summary>Creates a tracker with no best epoch yet.</summary>
    /// <param name="model">The model whose weights are kept and restored.</param>
    /// <param name="options">The trainer's options: monitored metric, patience, whether to keep the best weights, the best checkpoint.</param>
    /// <param name="logger">Told when weights are restored, or cannot be.</param>
    public BestEpochTracker(CtrModel model, TrainerOptions options, ILogger logger)
    {
        _model = model;
        _options = options;
        _logger = logger;
    }

    /// <summary>The best epoch so far, counted from 0; -1 while no epoch has a validation figure.</summary>
    public int BestEpoch { get; private set; } = -1;

    /// <summary>Its validation figure; NaN while there is none.</summary>
    public double BestMetric { get; private set; } = double.NaN;

    /// <summary>Evaluated epochs since the best one (every evaluated epoch while there is none).</summary>
    public int EpochsWithoutImprovement { get; private set; }

    /// <summary>True when <see cref="TrainerOptions.Patience"/> is set and that many epochs have passed without improvement.</summary>
    public bool ShouldStop => _options.Patience is { } patience && EpochsWithoutImprovement >= patience;

    /// <summary>True while a copy of the best epoch's weights is held.</summary>
    public bool HoldsBestWeights => _bestWeights is not null;

    /// <summary>
    /// The one rule of "better": <paramref name="value"/> is a number and either there is no best yet
    /// (<paramref name="best"/> is NaN) or it beats <paramref name="best"/> strictly, higher for AUC and GAUC,
    /// lower for log loss. A tie is no improvement, so the earlier epoch (or candidate) stays best.
    /// </summary>
    /// <param name="value">The new figure.</param>
    /// <param name="best">The best figure so far; NaN when there is none.</param>
    /// <param name="metric">Which metric the figures are, which says whether higher or lower is better.</param>
    /// <returns>True when <paramref name="value"/> should become the best.</returns>
    public static bool IsImprovement(double value, double best, MetricKind metric)
    {
        bool higherIsBetter = metric != MetricKind.LogLoss;
        return !double.IsNaN(value) && (double.IsNaN(best) || (higherIsBetter ? value > best : value < best));
    }

    /// <summary>
    /// Records an evaluated epoch: on an improvement it becomes the best (and, with
    /// <see cref="TrainerOptions.RestoreBestWeights"/>, the model's current weights are copied), otherwise one more
    /// epoch counts without improvement.
    /// </summary>
    /// <param name="epoch">The epoch, counted from 0.</param>
    /// <param name="value">Its validation figure of <see cref="TrainerOptions.MonitorMetric"/>; NaN is never an improvement.</param>
    /// <returns>True when the epoch is the new best.</returns>
    public bool Record(int epoch, double value)
    {
        bool better = IsImprovement(value, BestMetric, _options.MonitorMetric);
        if (better)
        {
            BestMetric = value;
            BestEpoch = epoch;
            EpochsWithoutImprovement = 0;
            if (_options.RestoreBestWeights)
            {
                KeepBestWeights();
            }
        }
        else
        {
            EpochsWithoutImprovement++;
        }

        return better;
    }

    /// <summary>Takes the bookkeeping of a checkpoint's training state; the weights held belonged to the run before it and are dropped.</summary>
    /// <param name="state">The training state read from the checkpoint.</param>
    public void Resume(TrainingState state)
    {
        BestEpoch = state.BestEpoch;
        BestMetric = state.BestMetric;
        EpochsWithoutImprovement = state.EpochsWithoutImprovement;
        DisposeBestWeights();
    }

    /// <summary>
    /// With <see cref="TrainerOptions.RestoreBestWeights"/>, loads the best epoch's weights into the model: from the
    /// copy held; or nothing to do when the last epoch is the best; or, for a trainer resumed after its best epoch, from
    /// <see cref="TrainerOptions.BestCheckpointPath"/> when that file holds the best epoch. Otherwise the model keeps its
    /// weights (with a warning when a best epoch exists but its weights are nowhere).
    /// </summary>
    /// <param name="completedEpochs">Epochs completed, so the last one is <paramref name="completedEpochs"/> - 1.</param>
    /// <returns>True when the model now holds the best epoch's weights.</returns>
    public bool RestoreBestWeights(int completedEpochs)
    {
        if (!_options.RestoreBestWeights || BestEpoch < 0)
        {
            return false; // off, or nothing was evaluated
        }

        if (_bestWeights is not null)
        {
            using var noGrad = no_grad();
            foreach (var (name, tensor) in _model.state_dict())
            {
                tensor.copy_(_bestWeights[name]);
            }

            _logger.LogInformation("Restored the weights of epoch {Epoch} ({Metric} {Value:F5}).", BestEpoch + 1, _options.MonitorMetric, BestMetric);
            return true;
        }

        if (BestEpoch == completedEpochs - 1)
        {
            return true; // the last epoch, whose weights the model holds, is the best
        }

        // A resumed trainer whose best epoch came before the checkpoint it resumed from.
        if (_options.BestCheckpointPath is { } path && File.Exists(path)
            && CheckpointReader.Open(path) is var contents && CheckpointReader.TrainingStateOf(contents) is { } state && state.CompletedEpochs == BestEpoch + 1)
        {
            CheckpointLoader.LoadInto(contents, _model, null, requireTraining: false);
            _logger.LogInformation("Restored the weights of epoch {Epoch} ({Metric} {Value:F5}) from {Path}.", BestEpoch + 1, _options.MonitorMetric, BestMetric, path);
            return true;
        }

        _logger.LogWarning(
            "The best epoch {Epoch} came before this trainer resumed and {Path} does not hold it: the model keeps the weights of the last epoch {Last}.",
            BestEpoch + 1, _options.BestCheckpointPath ?? "(no BestCheckpointPath)", completedEpochs);
        return false;
    }

    /// <summary>Frees the copy of the best weights; the bookkeeping stays.</summary>
    public void Dispose() => DisposeBestWeights();

    /// <summary>Replaces the copy of the best weights with the model's current state dict.</summary>
    private void KeepBestWeights()
    {
        DisposeBestWeights();
        var copy = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using (no_grad())
        {
            foreach (var (name, tensor) in _model.state_dict())
            {
                // Out of any caller's dispose scope: the copy lives until replaced or until Dispose.
                using var detached = tensor.detach();
                copy[name] = detached.clone().DetachFromDisposeScope();
            }
        }

        _bestWeights = copy;
    }

    private void DisposeBestWeights()
    {
        if (_bestWeights is not null)
        {
            foreach (var tensor in _bestWeights.Values)
            {
                tensor.Dispose();
            }

            _bestWeights = null;
        }
    }
}
