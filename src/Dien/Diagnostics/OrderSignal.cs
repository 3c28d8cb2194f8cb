using Dien.Data;
using Dien.Metrics;

namespace Dien.Diagnostics;

/// <summary>
/// Measures how much the order of the users' histories tells about their next click, beyond the set of their
/// behaviours, before any deep model is trained: the part of the signal that DIEN's interest evolution can use
/// and DIN's order-free attention pooling cannot.
/// </summary>
/// <remarks>
/// <para>
/// The training users are divided by user into three groups (seeded). The first builds item statistics (clicks
/// per item, co-occurrence and direct succession within a user's sequence). On the second, two logistic
/// regressions are fitted: one on order-free features (the target's click count, whether and how often its
/// category occurs in the history, its co-occurrence with the history's items), one on those plus order features
/// (whether the last behaviour or one of the last three has the target's category, the target's co-occurrence with
/// the last item and the last three, how often it directly followed the last item, how often the history's items
/// came before it). Both are scored on the third group, over all its samples and over each user's last samples.
/// </para>
/// <para>
/// Pass training samples only, never a test file: the figures are for choosing a model. On Amazon Beauty in the
/// authors' format the order added 0.004 AUC, on the synthetic workload (whose users click what they did in
/// their last three behaviours) 0.16 (docs/results.md).
/// </para>
/// <para>
/// Cost: one pass over the samples, and a count per pair of items that share a sequence within its last 50
/// positions; on a log of millions of users, pass a sample of the users. Beauty's 246,382 samples take a few
/// seconds.
/// </para>
/// </remarks>
public static class OrderSignal
{
    private const int RecentWindow = 3;

    // The first SetFeatureCount features of a row see the history as a set; the rest see its order.
    private const int SetFeatureCount = 4;

    /// <summary>Measures the order signal of a data set's training samples.</summary>
    /// <param name="samples">Training samples (several users, with clicks and non-clicks).</param>
    /// <param name="heldOutFraction">Share of the users held out from the statistics, in (0, 1); half are fitted on, half scored.</param>
    /// <param name="seed">Seed of the division of the users.</param>
    /// <returns>The AUCs with and without the order features.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="heldOutFraction"/> is outside (0, 1).</exception>
    /// <exception cref="ArgumentException">A group of users lacks clicks or non-clicks; the message names the group and its size.</exception>
    public static OrderSignalReport Measure(IReadOnlyList<Sample> samples, double heldOutFraction = 0.2, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (!(heldOutFraction > 0 && heldOutFraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(heldOutFraction), heldOutFraction, "The held-out fraction must be in (0, 1): the share of users the statistics do not see.");
        }

        var heldOut = ValidationSplit.ByUser(samples, heldOutFraction, seed);
        var fitAndScore = ValidationSplit.ByUser(heldOut.Validation, 0.5, seed + 1);
        RequireBothLabels(heldOut.Train, "the statistics users", nameof(samples));
        RequireBothLabels(fitAndScore.Train, "the users fitted on", nameof(samples));
        RequireBothLabels(fitAndScore.Validation, "the users scored", nameof(samples));

        var statistics = ItemStatistics.Count(heldOut.Train);
        var fit = fitAndScore.Train;
        var scored = fitAndScore.Validation;
        var last = new HashSet<Sample>(new ValidationSplit([], scored).LastPerUser().Validation, ReferenceEqualityComparer.Instance);
        var fitRows = fit.Select(s => Features(s, statistics)).ToList();
        var scoredRows = scored.Select(s => Features(s, statistics)).ToList();
        var fitLabels = fit.Select(s => s.Label).ToList();

        var setModel = LogisticRegression.Fit(fitRows.Select(r => r[..SetFeatureCount]).ToList(), fitLabels);
        var orderedModel = LogisticRegression.Fit(fitRows, fitLabels);
        var labels = scored.Select(s => s.Label).ToArray();
        var isLast = scored.Select(last.Contains).ToArray();
        var popularity = scoredRows.Select(r => (float)r[0]).ToArray();
        var setScores = scoredRows.Select(r => (float)setModel.Logit(r[..SetFeatureCount])).ToArray();
        var orderedScores = scoredRows.Select(r => (float)orderedModel.Logit(r)).ToArray();
        return new OrderSignalReport(
            heldOut.Train.Count,
            fit.Count,
            scored.Count,
            last.Count,
            ClickMetrics.Auc(popularity, labels),
            ClickMetrics.Auc(setScores, labels),
            ClickMetrics.Auc(orderedScores, labels),
            ClickMetrics.Auc(Only(setScores, isLast), Only(labels, isLast)),
            ClickMetrics.Auc(Only(orderedScores, isLast), Only(labels, isLast)));
    }

    private static double[] Features(Sample sample, ItemStatistics statistics)
    {
        long item = sample.TargetItem;
        long category = sample.TargetCategory;
        var items = sample.HistoryItems;
        var categories = sample.HistoryCategories;
        int length = items.Length;
        int recent = Math.Max(0, length - RecentWindow);
        int sameCategory = categories.Count(c => c == category);
        double together = 0, togetherRecent = 0, before = 0;
        for (int t = Math.Max(0, length - ItemStatistics.Window); t < length; t++)
        {
            int pairs = statistics.Together(items[t], item);
            together += pairs;
            togetherRecent += t >= recent ? pairs : 0;
            before += statistics.Before(items[t], item);
        }

        return
        [
            Math.Log(1 + statistics.Clicks(item)),
            sameCategory > 0 ? 1 : 0,
            length > 0 ? (double)sameCategory / length : 0,
            Math.Log(1 + together),
            length > 0 && categories[^1] == category ? 1 : 0,
            categories.Skip(recent).Contains(category) ? 1 : 0,
            length > 0 ? Math.Log(1 + statistics.Together(items[^1], item)) : 0,
            Math.Log(1 + togetherRecent),
            length > 0 ? Math.Log(1 + statistics.Next(items[^1], item)) : 0,
            Math.Log(1 + before),
        ];
    }

    private static void RequireBothLabels(IReadOnlyList<Sample> samples, string group, string parameter)
    {
        int clicks = samples.Count(s => s.Label == 1);
        if (clicks == 0 || clicks == samples.Count)
        {
            throw new ArgumentException(
                $"{group} have {samples.Count} samples, {clicks} of them clicks: each group of users needs clicks and non-clicks. Pass more users, or change the held-out fraction.",
                parameter);
        }
    }

    private static float[] Only(float[] values, bool[] keep) => values.Where((_, i) => keep[i]).ToArray();
}
