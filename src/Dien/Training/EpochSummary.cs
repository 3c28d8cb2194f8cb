using Dien.Metrics;

namespace Dien.Training;

/// <summary>What one epoch did.</summary>
/// <param name="Epoch">The epoch, from 0.</param>
/// <param name="TrainingLoss">Mean training loss per row.</param>
/// <param name="LearningRate">The learning rate used.</param>
/// <param name="Validation">Validation metrics; null without validation data.</param>
public sealed record EpochSummary(int Epoch, double TrainingLoss, double LearningRate, EvaluationResult? Validation);
