namespace Dien.Training;

/// <summary>Progress of training, reported every <see cref="TrainerOptions.ProgressInterval"/> batches.</summary>
/// <param name="Epoch">The epoch, from 0.</param>
/// <param name="Batch">The batch index within the epoch, from 0.</param>
/// <param name="SamplesSeen">Rows trained on in this epoch so far.</param>
/// <param name="RunningLoss">Mean loss per row over this epoch so far.</param>
/// <param name="SamplesPerSecond">Throughput over this epoch so far.</param>
public sealed record TrainingProgress(int Epoch, int Batch, long SamplesSeen, double RunningLoss, double SamplesPerSecond);
