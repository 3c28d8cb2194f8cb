namespace Dien.Data.Batching;

/// <summary>How <see cref="NegativeSampler"/> weighs the pool.</summary>
public enum NegativeSampling
{
    /// <summary>Every distinct item of the pool equally likely, as the PyTorch reference (DeepCTR-Torch) draws.</summary>
    Uniform,

    /// <summary>
    /// Items in proportion to how often they occur in the pool: the default, because the authors draw from the review
    /// log, which is this, and uniform draws won on neither development set (docs/results.md).
    /// </summary>
    Popularity,
}

/// <summary>
/// Draws negative items (with their categories) for the next-behaviour auxiliary loss: for each valid
/// history position t, an item different from the behaviour at t (redrawn until it differs).
/// </summary>
/// <remarks>Popularity weighting uses a cumulative table and binary search. Draws come from the
/// <see cref="Random"/> passed in, so a seeded caller gets the same negatives every run.</remarks>
public sealed class NegativeSampler
{
    private const int MaxRedraws = 1000;
    private readonly long[] _items;
    private readonly long[] _categories;
    private readonly long[]? _cumulative;

    /// <summary>Builds a sampler over a pool of occurrences.</summary>
    /// <param name="pool">(item, category) occurrences; an item may repeat (its count is its popularity).</param>
    /// <param name="mode">By popularity (the default, as the authors draw), or uniform over distinct items.</param>
    /// <exception cref="ArgumentException">The pool has fewer than 2 distinct items (no negative could differ from every positive).</exception>
    public NegativeSampler(IEnumerable<(long Item, long Category)> pool, NegativeSampling mode = NegativeSampling.Popularity)
        : this(Count(pool), mode, nameof(pool))
    {
    }

    private NegativeSampler((long Item, long Category, long Count)[] ordered, NegativeSampling mode, string source)
    {
        if (ordered.Length < 2)
        {
            throw new ArgumentException($"The negative pool has {ordered.Length} distinct item(s); at least 2 are needed.", source);
        }

        _items = ordered.Select(entry => entry.Item).ToArray();
        _categories = ordered.Select(entry => entry.Category).ToArray();
        Mode = mode;
        if (mode == NegativeSampling.Popularity)
        {
            _cumulative = new long[_items.Length];
            long total = 0;
            for (int i = 0; i < ordered.Length; i++)
            {
                total += ordered[i].Count;
                _cumulative[i] = total;
            }
        }
    }

    /// <summary>A sampler over the items with a nonzero count (index = item id), each with its category.</summary>
    internal static NegativeSampler FromOccurrences(long[] occurrences, long[] categories, NegativeSampling mode) =>
        new(Enumerable.Range(0, occurrences.Length).Where(item => occurrences[item] > 0).Select(item => ((long)item, categories[item], occurrences[item])).ToArray(), mode, nameof(occurrences));

    /// <summary>A sampler over every history behaviour of <paramref name="samples"/> (popularity = how often an item occurs in histories).</summary>
    /// <param name="samples">The (training) samples.</param>
    /// <param name="mode">The weighting (by popularity unless given).</param>
    public static NegativeSampler FromHistories(IEnumerable<Sample> samples, NegativeSampling mode = NegativeSampling.Popularity)
    {
        ArgumentNullException.ThrowIfNull(samples);
        return new NegativeSampler(samples.SelectMany(s => s.HistoryItems.Zip(s.HistoryCategories)), mode);
    }

    /// <summary>The weighting in use.</summary>
    public NegativeSampling Mode { get; }

    /// <summary>Number of distinct items in the pool.</summary>
    public int DistinctItems => _items.Length;

    /// <summary>Draws one (item, category) different from <paramref name="positive"/>.</summary>
    /// <param name="positive">The item it must differ from.</param>
    /// <param name="random">The source of draws.</param>
    public (long Item, long Category) Draw(long positive, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        for (int attempt = 0; attempt < MaxRedraws; attempt++)
        {
            int index = DrawIndex(random);
            if (_items[index] != positive)
            {
                return (_items[index], _categories[index]);
            }
        }

        // Only reachable when one item holds nearly all the weight: fall back to a uniform pick among the others.
        int other = random.Next(_items.Length - 1);
        int pos = Array.BinarySearch(_items, positive);
        if (pos >= 0 && other >= pos)
        {
            other++;
        }

        return (_items[other], _categories[other]);
    }

    /// <summary>Fills negatives for every valid position of a batch (padding slots stay 0).</summary>
    /// <param name="historyItems">[B * T] positives.</param>
    /// <param name="lengths">[B] valid lengths.</param>
    /// <param name="width">T.</param>
    /// <param name="negativeItems">[B * T] output items.</param>
    /// <param name="negativeCategories">[B * T] output categories.</param>
    /// <param name="random">The source of draws.</param>
    public void Fill(long[] historyItems, int[] lengths, int width, long[] negativeItems, long[] negativeCategories, Random random)
    {
        ArgumentNullException.ThrowIfNull(historyItems);
        ArgumentNullException.ThrowIfNull(lengths);
        ArgumentNullException.ThrowIfNull(negativeItems);
        ArgumentNullException.ThrowIfNull(negativeCategories);
        for (int b = 0; b < lengths.Length; b++)
        {
            for (int t = 0; t < lengths[b]; t++)
            {
                int i = (b * width) + t;
                (negativeItems[i], negativeCategories[i]) = Draw(historyItems[i], random);
            }
        }
    }

    /// <summary>
    /// Fills a negative for each of a packed batch's positives, in order: the same draws, in the same order, as
    /// <see cref="Fill"/> makes for the padded layout of the same batch.
    /// </summary>
    /// <param name="positives">The valid positions' items, row after row.</param>
    /// <param name="negativeItems">Output items, as long as <paramref name="positives"/>.</param>
    /// <param name="negativeCategories">Output categories, as long as <paramref name="positives"/>.</param>
    /// <param name="random">The source of draws.</param>
    internal void FillPacked(long[] positives, long[] negativeItems, long[] negativeCategories, Random random)
    {
        for (int i = 0; i < positives.Length; i++)
        {
            (negativeItems[i], negativeCategories[i]) = Draw(positives[i], random);
        }
    }

    private int DrawIndex(Random random)
    {
        if (_cumulative is null)
        {
            return random.Next(_items.Length);
        }

        long u = random.NextInt64(_cumulative[^1]);
        int index = Array.BinarySearch(_cumulative, u + 1);
        return index >= 0 ? index : ~index;
    }

    /// <summary>The pool's distinct items by id, each with its first category and its count.</summary>
    private static (long Item, long Category, long Count)[] Count(IEnumerable<(long Item, long Category)> pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        var counts = new Dictionary<long, (long Category, long Count)>();
        foreach (var (item, category) in pool)
        {
            counts[item] = counts.TryGetValue(item, out var c) ? (c.Category, c.Count + 1) : (category, 1);
        }

        return counts.OrderBy(pair => pair.Key).Select(pair => (pair.Key, pair.Value.Category, pair.Value.Count)).ToArray();
    }
}
