using Dien.Metrics;
using Dien.Runtime;

namespace Dien.Training;

/// <summary>How <see cref="CtrTrainer"/> optimises and when it stops. The model's own options (alpha included) live in <c>CtrModelOptions</c>.</summary>
public sealed class TrainerOptions
{
    /// <summary>Maximum number of epochs.</summary>
    /// <value>The default value is 2.</value>
    public int Epochs { get; set; } = 2;

    /// <summary>Adam learning rate of the first epoch.</summary>
    /// <value>The default value is 1e-3 (the authors').</value>
    public double LearningRate { get; set; } = 1e-3;

    /// <summary>Factor applied to the learning rate after each epoch: 0.5 halves it as the authors did.</summary>
    /// <value>The default value is 1 (constant).</value>
    public double LearningRateDecayPerEpoch { get; set; } = 1.0;

    /// <summary>Adam weight decay (L2).</summary>
    /// <value>The default value is 0.</value>
    public double WeightDecay { get; set; }

    /// <summary>Clip the gradients' global L2 norm to this value; null for no clipping.</summary>
    /// <value>The default value is null.</value>
    public double? GradientClipNorm { get; set; }

    /// <summary>The metric watched for early stopping and the best checkpoint.</summary>
    /// <value>The default value is AUC.</value>
    public MetricKind MonitorMetric { get; set; } = MetricKind.Auc;

    /// <summary>
    /// Stop after this many epochs without improvement of the validation metric (<see cref="MonitorMetric"/>);
    /// null never stops early. Needs validation batches in <see cref="CtrTrainer.Fit"/>; without them nothing stops early.
    /// </summary>
    /// <value>The default value is 2: stop after 2 epochs without improvement of the validation metric. One flat epoch can be noise
    /// of the validation sample, two in a row rarely are; and with <see cref="RestoreBestWeights"/> stopping loses
    /// nothing but the chance of a late recovery.</value>
    public int? Patience { get; set; } = 2;

    /// <summary>
    /// When <see cref="CtrTrainer.Fit"/> ends after its last epoch or an early stop (not on cancellation, not on an
    /// exception), the model holds the weights (parameters and buffers) of the epoch with the best validation
    /// <see cref="MonitorMetric"/>, not those of the last epoch. The trainer keeps a copy of the best weights in memory,
    /// on the model's device, independent of <see cref="BestCheckpointPath"/>. A trainer resumed with
    /// <see cref="CtrTrainer.LoadCheckpoint"/> whose best epoch lies before the resume, and that finds no better
    /// epoch, restores from <see cref="BestCheckpointPath"/> when that file holds the best epoch; otherwise it keeps the
    /// last weights and logs a warning. <see cref="TrainingResult.RestoredBestWeights"/> tells which happened.
    /// </summary>
    /// <value>The default value is true: the last epoch is often not the best once training overfits, and the model a caller keeps
    /// (and scores on the test file once) should be the one validation chose.</value>
    public bool RestoreBestWeights { get; set; } = true;

    /// <summary>Seed of every random source; epoch e reseeds torch with Seed + e, so a resumed run repeats an uninterrupted one.</summary>
    /// <value>The default value is 42.</value>
    public long Seed { get; set; } = 42;

    /// <summary>Report progress every this many batches.</summary>
    /// <value>The default value is 1.</value>
    public int ProgressInterval { get; set; } = 1;

    /// <summary>How many batches are turned into tensors ahead of the one training (on a background thread).</summary>
    /// <value>The default value is 1.</value>
    public int PrefetchDepth { get; set; } = 1;

    /// <summary>Where the best checkpoint (by <see cref="MonitorMetric"/>) is written; null writes none.</summary>
    /// <value>The default value is null.</value>
    public string? BestCheckpointPath { get; set; }

    /// <summary>Where a checkpoint is written after every epoch (and on cancellation); null writes none.</summary>
    /// <value>The default value is null.</value>
    public string? LastCheckpointPath { get; set; }

    /// <summary>
    /// After each epoch (and after its evaluation), collect the .NET heap, so the resident size stays flat from epoch
    /// to epoch; when <see cref="CtrTrainer.Fit"/> returns, hand the native heap's free pages back to the operating
    /// system too (glibc <c>malloc_trim</c> on Linux). While <see cref="KeepFreedMemoryWithinEpochs"/> keeps the
    /// native heap's blocks for the next step they stay kept between epochs, since the next epoch's steps use them
    /// again (handing them back made every page fault in again, docs/performance.md); without it the native heap's
    /// free pages go back after each epoch as well.
    /// </summary>
    /// <value>The default value is true.</value>
    public bool ReleaseMemoryBetweenEpochs { get; set; } = true;

    /// <summary>
    /// Within an epoch, let the native heap keep the blocks a step frees for the next step (glibc on Linux: blocks up
    /// to 32 MiB from the heap, no automatic trim) instead of mapping every large tensor afresh: batches padded to a
    /// long history otherwise pay a page fault per page of every large tensor, every step. Process-wide; it stays in
    /// place after training, the blocks stay kept between epochs, and <see cref="ReleaseMemoryBetweenEpochs"/> hands
    /// them back when training ends.
    /// </summary>
    /// <value>The default value is true.</value>
    public bool KeepFreedMemoryWithinEpochs { get; set; } = true;

    /// <summary>A copy of every value, so that whoever keeps these options is not changed by later changes to this instance.</summary>
    /// <returns>A new instance with the same values.</returns>
    public TrainerOptions Clone() => (TrainerOptions)MemberwiseClone();

    /// <summary>Every problem with these options, each naming its option; empty when they are valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new OptionErrors();
        errors.Require(Epochs >= 1, nameof(Epochs), Epochs, "must be at least 1");
        errors.Require(LearningRate > 0, nameof(LearningRate), LearningRate, "must be positive");
        errors.Require(LearningRateDecayPerEpoch > 0 && LearningRateDecayPerEpoch <= 1, nameof(LearningRateDecayPerEpoch), LearningRateDecayPerEpoch, "must be in (0, 1]");
        errors.Require(WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "must not be negative");
        errors.Require(GradientClipNorm is not { } c || c > 0, nameof(GradientClipNorm), GradientClipNorm, "must be positive or null");
        errors.Require(Patience is not { } p || p >= 1, nameof(Patience), Patience, "must be at least 1 or null");
        errors.Require(ProgressInterval >= 1, nameof(ProgressInterval), ProgressInterval, "must be at least 1");
        errors.Require(PrefetchDepth >= 1, nameof(PrefetchDepth), PrefetchDepth, "must be at least 1");
        return errors.Errors;
    }

    /// <summary>Throws when <see cref="Validate"/> finds any problem.</summary>
    /// <exception cref="TrainerOptionsException">One or more options are invalid; the message lists them all.</exception>
    public void EnsureValid()
    {
        var errors = Validate();
        if (errors.Count > 0)
        {
            throw new TrainerOptionsException(errors);
        }
    }
}

/// <summary>Thrown when <see cref="TrainerOptions"/> are invalid; <see cref="OptionsException.Errors"/> lists every problem.</summary>
public sealed class TrainerOptionsException : OptionsException
{
    /// <summary>Creates the exception from the list of problems.</summary>
    /// <param name="errors">One sentence per problem, each naming its option.</param>
    public TrainerOptionsException(IReadOnlyList<string> errors)
        : base(nameof(TrainerOptions), errors)
    {
    }
}
