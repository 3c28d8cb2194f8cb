namespace Dien.Data;

/// <summary>A train/test pair of sample lists.</summary>
/// <param name="Train">Training samples.</param>
/// <param name="Test">Test samples.</param>
public sealed record SampleSplit(IReadOnlyList<Sample> Train, IReadOnlyList<Sample> Test);
