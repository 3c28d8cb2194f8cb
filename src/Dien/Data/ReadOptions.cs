namespace Dien.Data;

/// <summary>How readers and converters treat bad lines and empty histories.</summary>
public sealed class ReadOptions
{
    /// <summary>
    /// False (default): the first malformed line throws <see cref="DataFormatException"/>.
    /// True: malformed lines are skipped and counted in <see cref="ReadSummary.SkippedLines"/>.
    /// </summary>
    /// <value>The default value is false.</value>
    public bool SkipBadLines { get; set; }

    /// <summary>
    /// True (default): samples with an empty history are kept (the models handle length 0).
    /// False: they are dropped and counted in <see cref="ReadSummary.DroppedEmptyHistories"/>.
    /// </summary>
    /// <value>The default value is true.</value>
    public bool KeepEmptyHistories { get; set; } = true;

    /// <summary>
    /// Receives the summary once at the end of each read (also available from the reader), for a UI that shows
    /// the numbers; messages go to an <c>ILogger</c>. Reported on the reading thread.
    /// </summary>
    /// <value>The default value is null.</value>
    public IProgress<ReadSummary>? Completed { get; set; }

    /// <summary>A copy of every value, so that whoever keeps these options is not changed by later changes to this instance.</summary>
    /// <returns>A new instance with the same values.</returns>
    public ReadOptions Clone() => (ReadOptions)MemberwiseClone();
}
