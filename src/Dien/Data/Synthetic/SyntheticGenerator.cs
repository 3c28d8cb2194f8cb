namespace Dien.Data.Synthetic;

/// <summary>
/// Generates behaviour sequences with evolving interests, seeded and deterministic.
/// </summary>
/// <remarks>
/// Each sample: a user walks through categories (after each behaviour the interest moves to a random
/// other category with <see cref="SyntheticOptions.DriftProbability"/>) and clicks items of the current
/// category. The target's category is, with equal chance, the current interest, a category the user had
/// earlier but has left, or a random one. The click probability depends only on whether the target's
/// category is among the last <see cref="SyntheticOptions.RecentWindow"/> behaviours' categories, not on
/// the overall mix of the history: a model that follows the evolution (attention over recent states,
/// AUGRU) can beat sum pooling, which cannot tell an old interest from a current one.
/// The last <see cref="SyntheticOptions.TestFraction"/> of samples is the test split.
/// </remarks>
public static class SyntheticGenerator
{
    /// <summary>Generates the samples and splits them.</summary>
    /// <param name="options">Sizes and probabilities; defaults = the benchmark workload.</param>
    public static SampleSplit Generate(SyntheticOptions? options = null)
    {
        options ??= new SyntheticOptions();
        options.EnsureValid();
        var random = new Random(options.Seed);
        var samples = new List<Sample>(options.Samples);
        int itemsPerCategory = options.Items / options.Categories;
        for (int n = 0; n < options.Samples; n++)
        {
            samples.Add(One(options, random, itemsPerCategory));
        }

        int test = (int)Math.Round(options.Samples * options.TestFraction);
        return new SampleSplit(samples.GetRange(0, options.Samples - test), samples.GetRange(options.Samples - test, test));
    }

    /// <summary>The category of item <paramref name="item"/> (1-based) under <paramref name="options"/>.</summary>
    /// <param name="item">Item id, 1..Items.</param>
    /// <param name="options">The generator's options.</param>
    public static long CategoryOf(long item, SyntheticOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return 1 + ((item - 1) % options.Categories);
    }

    private static Sample One(SyntheticOptions o, Random random, int itemsPerCategory)
    {
        long user = 1 + random.Next(o.Users);
        int length = random.Next(o.MinHistoryLength, o.MaxHistoryLength + 1);
        var items = new long[length];
        var cats = new long[length];
        int interest = random.Next(o.Categories);
        for (int t = 0; t < length; t++)
        {
            if (t > 0 && random.NextDouble() < o.DriftProbability)
            {
                interest = (interest + 1 + random.Next(o.Categories - 1)) % o.Categories;
            }

            items[t] = ItemOf(interest, random, itemsPerCategory, o);
            cats[t] = interest + 1;
        }

        var recent = new HashSet<long>();
        for (int t = Math.Max(0, length - o.RecentWindow); t < length; t++)
        {
            recent.Add(cats[t]);
        }

        int targetCategory;
        double kind = random.NextDouble();
        var old = cats.Where(c => !recent.Contains(c)).Distinct().ToArray();
        if (kind < 1.0 / 3)
        {
            targetCategory = (int)cats[length - 1] - 1;
        }
        else if (kind < 2.0 / 3 && old.Length > 0)
        {
            targetCategory = (int)old[random.Next(old.Length)] - 1;
        }
        else
        {
            targetCategory = random.Next(o.Categories);
        }

        long target = ItemOf(targetCategory, random, itemsPerCategory, o);
        double p = recent.Contains(targetCategory + 1) ? o.ClickProbabilityRecent : o.ClickProbabilityOther;
        float label = random.NextDouble() < p ? 1f : 0f;
        return new Sample
        {
            Label = label,
            User = user,
            TargetItem = target,
            TargetCategory = targetCategory + 1,
            HistoryItems = items,
            HistoryCategories = cats,
        };
    }

    // Items of category c (0-based) are c + 1, c + 1 + C, c + 1 + 2C, ...; so CategoryOf holds.
    private static long ItemOf(int category, Random random, int itemsPerCategory, SyntheticOptions o)
    {
        int k = random.Next(itemsPerCategory);
        return category + 1 + ((long)k * o.Categories);
    }
}
