namespace Dien.Data;

/// <summary>How readers and converters treat bad lines and empty histories.</summary>
public sealed record ReadOptions
{
    /// <summary>
    /// False (default): the first malformed line throws <see cref="DataFormatException"/>.
    /// True: malformed lines are skipped and counted in <see cref="ReadSummary.SkippedLines"/>.
    /// </summary>
    public bool SkipBadLines { get; init; }

    /// <summary>
    /// True (default): samples with an empty history are kept (the models handle length 0).
    /// False: they are dropped and counted in <see cref="ReadSummary.DroppedEmptyHistories"/>.
    /// </summary>
    public bool KeepEmptyHistories { get; init; } = true;

    /// <summary>Called once at the end of a read with its summary (also available from the reader).</summary>
    public Action<ReadSummary>? Completed { get; init; }
}

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
