using Dien.Data.Batching;

namespace Dien.Data.Converters;

/// <summary>The result of a converter: split samples, vocabularies and the item catalogue.</summary>
public sealed record ConvertedDataset
{
    /// <summary>Training samples (users in the training split, or the events before the validation slice of a split by time).</summary>
    public required IReadOnlyList<Sample> Train { get; init; }

    /// <summary>
    /// Validation samples from the converter itself: with <see cref="ConversionOptions.SplitByTime"/>, the pairs whose
    /// targets fall in the training period's last slice; empty in a split by user, where the caller holds users out
    /// (<see cref="ValidationSplit.ByUser"/>).
    /// </summary>
    public IReadOnlyList<Sample> Validation { get; init; } = [];

    /// <summary>Test samples (users in the test split, or the events after the cut of a split by time).</summary>
    public required IReadOnlyList<Sample> Test { get; init; }

    /// <summary>Raw user key -> id.</summary>
    public required Vocabulary Users { get; init; }

    /// <summary>Raw item key -> id.</summary>
    public required Vocabulary Items { get; init; }

    /// <summary>Raw category key -> id.</summary>
    public required Vocabulary Categories { get; init; }

    /// <summary>Category id of each item id (index = item id; entry 0 = 0).</summary>
    public required long[] ItemCategories { get; init; }

    /// <summary>
    /// How many behaviours each item id has (index = item id; entry 0 = 0): the pool of sampled negatives, as the
    /// authors' reviews-info, held as counts so that it grows with the items, not with the log.
    /// </summary>
    public required long[] ItemOccurrences { get; init; }

    /// <summary>Users kept, behaviours read, and bad lines skipped.</summary>
    public required ReadSummary Summary { get; init; }

    /// <summary>A popularity- or uniform-weighted sampler over the items that occur (<see cref="ItemOccurrences"/>).</summary>
    /// <param name="mode">The weighting (by popularity unless given, as the authors draw).</param>
    public NegativeSampler CreateNegativeSampler(NegativeSampling mode = NegativeSampling.Popularity) =>
        NegativeSampler.FromOccurrences(ItemOccurrences, ItemCategories, mode);
}
