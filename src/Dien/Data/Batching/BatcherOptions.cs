using Dien.Runtime;
using Microsoft.Extensions.Logging;

namespace Dien.Data.Batching;

/// <summary>Options of <see cref="Batcher"/>.</summary>
public sealed class BatcherOptions
{
    /// <summary>Rows per batch (the authors use 128). The last batch of a stream may be smaller.</summary>
    /// <value>The default value is 128.</value>
    public int BatchSize { get; set; } = 128;

    /// <summary>Histories longer than this keep only their most recent behaviours (default 100, as the authors). Reported once through <see cref="Logger"/>.</summary>
    /// <value>The default value is 100.</value>
    public int MaxHistoryLength { get; set; } = 100;

    /// <summary>
    /// The bounded buffer holds <c>BufferBatches * BatchSize</c> samples (the authors' k = 20). It is filled
    /// from the stream, optionally shuffled or sorted by length, cut into batches, and the batches are
    /// optionally shuffled. Memory stays bounded by the buffer whatever the stream's size.
    /// </summary>
    /// <value>The default value is 20.</value>
    public int BufferBatches { get; set; } = 20;

    /// <summary>
    /// Shuffle (seeded by <see cref="Seed"/>): an in-memory list is read in a random order over the whole list, a lazy
    /// stream is shuffled inside the buffer; the order of the cut batches is shuffled too.
    /// </summary>
    /// <value>The default value is false.</value>
    public bool Shuffle { get; set; }

    /// <summary>
    /// Sort the buffer by history length before cutting batches (the authors' bucketing), so rows of a batch have
    /// similar lengths and padding is small. Off by default: batches of alike lengths are not samples of the data,
    /// and a head with BatchNorm then learns batch statistics that evaluation never sees (the cost on Amazon Beauty is
    /// in docs/research/quality-history.md). Turn it on for speed without BatchNorm, and for evaluation batches: in
    /// evaluation a row's score does not depend on the rest of its batch, so sorting only skips padding.
    /// </summary>
    /// <value>The default value is false.</value>
    public bool BucketByLength { get; set; }

    /// <summary>Seed of the shuffles (and of the negative sampler's draws when one is set).</summary>
    /// <value>The default value is 1.</value>
    public int Seed { get; set; } = 1;

    /// <summary>True (default): samples with empty histories are batched with length 0. False: they are dropped (counted in <see cref="Batcher.DroppedEmptyHistories"/>).</summary>
    /// <value>The default value is true.</value>
    public bool KeepEmptyHistories { get; set; } = true;

    /// <summary>Copy <see cref="Sample.HistoryLabels"/> into <c>BatchArrays.HistoryLabels</c> (missing labels become 0).</summary>
    /// <value>The default value is false.</value>
    public bool IncludeHistoryLabels { get; set; }

    /// <summary>When set, fills <c>NegativeItems</c>/<c>NegativeCategories</c> for the auxiliary loss.</summary>
    /// <value>The default value is null.</value>
    public NegativeSampler? NegativeSampler { get; set; }

    /// <summary>Receives one-off notices (e.g. the first truncation, as information); null to stay quiet.</summary>
    /// <value>The default value is null.</value>
    public ILogger? Logger { get; set; }

    /// <summary>A copy of every value, so that whoever keeps these options is not changed by later changes to this instance.</summary>
    /// <returns>A new instance with the same values.</returns>
    public BatcherOptions Clone() => (BatcherOptions)MemberwiseClone();

    /// <summary>Every problem with these options, each naming its option; empty when they are valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new OptionErrors();
        errors.Require(BatchSize >= 1, nameof(BatchSize), BatchSize, "must be at least 1");
        errors.Require(MaxHistoryLength >= 1, nameof(MaxHistoryLength), MaxHistoryLength, "must be at least 1");
        errors.Require(BufferBatches >= 1, nameof(BufferBatches), BufferBatches, "must be at least 1");
        return errors.Errors;
    }

    /// <summary>Throws when <see cref="Validate"/> finds any problem.</summary>
    /// <exception cref="DataOptionsException">One or more options are invalid; the message lists them all.</exception>
    public void EnsureValid() => DataOptionsException.ThrowIfAny(nameof(BatcherOptions), Validate());
}
