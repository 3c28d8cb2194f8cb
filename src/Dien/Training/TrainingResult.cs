namespace Dien.Training;

/// <summary>The outcome of <see cref="CtrTrainer.Fit"/>.</summary>
/// <param name="Epochs">One summary per completed epoch in this call.</param>
/// <param name="BestEpoch">The epoch with the best monitored metric (across resumes), counted from 0, or -1 when none was evaluated.</param>
/// <param name="BestMetric">Its value, NaN when none.</param>
/// <param name="StoppedEarly">True when patience ran out.</param>
/// <param name="Cancelled">True when the cancellation token stopped training (after a whole batch).</param>
/// <param name="RestoredBestWeights">
/// True when, after <see cref="CtrTrainer.Fit"/>, the model holds the weights of <paramref name="BestEpoch"/>
/// (<see cref="TrainerOptions.RestoreBestWeights"/>; also when the last epoch was the best). False when the option is
/// off, nothing was evaluated, training was cancelled, or a resumed trainer could not find the best weights.
/// </param>
public sealed record TrainingResult(IReadOnlyList<EpochSummary> Epochs, int BestEpoch, double BestMetric, bool StoppedEarly, bool Cancelled, bool RestoredBestWeights);
