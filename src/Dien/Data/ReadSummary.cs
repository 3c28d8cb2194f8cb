namespace Dien.Data;

/// <summary>What a read saw: lines, samples, skipped lines (with the first problem) and dropped samples.</summary>
public sealed record ReadSummary
{
    /// <summary>The file or source read.</summary>
    public required string Source { get; init; }

    /// <summary>Lines read (header and blank lines included).</summary>
    public long Lines { get; init; }

    /// <summary>Samples produced.</summary>
    public long Samples { get; init; }

    /// <summary>Malformed lines skipped (only with <see cref="ReadOptions.SkipBadLines"/>).</summary>
    public long SkippedLines { get; init; }

    /// <summary>The first skipped line's problem, or null.</summary>
    public string? FirstProblem { get; init; }

    /// <summary>Samples dropped because their history was empty (only when <see cref="ReadOptions.KeepEmptyHistories"/> is false).</summary>
    public long DroppedEmptyHistories { get; init; }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Source}: {Lines} lines, {Samples} samples, {SkippedLines} bad lines skipped, {DroppedEmptyHistories} empty histories dropped"
        + (FirstProblem is null ? string.Empty : $" (first problem: {FirstProblem})");
}
