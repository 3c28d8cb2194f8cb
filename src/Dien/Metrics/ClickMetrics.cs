namespace Dien.Metrics;

/// <summary>
/// Offline CTR metrics over host arrays: exact AUC (ties share their average rank), GAUC and log loss.
/// </summary>
public static class ClickMetrics
{
    /// <summary>The clip applied to probabilities before taking logs in <see cref="LogLoss"/>.</summary>
    public const double LogLossEpsilon = 1e-7;

    /// <summary>
    /// Area under the ROC curve, computed exactly from ranks (Mann-Whitney U) in O(n log n); tied scores
    /// get the average of their ranks, so a tie between a positive and a negative counts one half.
    /// </summary>
    /// <param name="scores">Predicted scores (any monotone score; probabilities or logits).</param>
    /// <param name="labels">0/1 labels, one per score.</param>
    /// <returns>The AUC in [0, 1]; <see cref="double.NaN"/> when all labels are of one class (AUC is undefined).</returns>
    /// <exception cref="ArgumentException">Lengths differ, a label is not 0 or 1, or a score is NaN.</exception>
    public static double Auc(ReadOnlySpan<float> scores, ReadOnlySpan<float> labels)
    {
        Check(scores, labels);
        int n = scores.Length;
        var order = new int[n];
        var keys = new float[n];
        for (int i = 0; i < n; i++)
        {
            order[i] = i;
            keys[i] = scores[i];
        }

        Array.Sort(keys, order);
        double positiveRankSum = 0;
        long positives = 0;
        int start = 0;
        while (start < n)
        {
            int end = start;
            while (end + 1 < n && keys[end + 1] == keys[start])
            {
                end++;
            }

            // Ranks start+1 .. end+1 are shared by the tie group: each gets their mean.
            double averageRank = ((start + 1) + (end + 1)) / 2.0;
            for (int k = start; k <= end; k++)
            {
                if (labels[order[k]] == 1f)
                {
                    positives++;
                    positiveRankSum += averageRank;
                }
            }

            start = end + 1;
        }

        long negatives = n - positives;
        if (positives == 0 || negatives == 0)
        {
            return double.NaN;
        }

        double u = positiveRankSum - (positives * (positives + 1) / 2.0);
        return u / ((double)positives * negatives);
    }

    /// <summary>
    /// Group AUC: the per-user AUC averaged with weights equal to each user's number of impressions
    /// (DIN paper, eq. in section 5.3). Users whose impressions are all of one class are skipped.
    /// </summary>
    /// <param name="scores">Predicted scores.</param>
    /// <param name="labels">0/1 labels.</param>
    /// <param name="userIds">The user of each impression.</param>
    /// <returns>The GAUC; <see cref="double.NaN"/> when no user has both classes.</returns>
    /// <exception cref="ArgumentException">Lengths differ, a label is not 0 or 1, or a score is NaN.</exception>
    public static double GroupAuc(ReadOnlySpan<float> scores, ReadOnlySpan<float> labels, ReadOnlySpan<long> userIds)
    {
        Check(scores, labels);
        if (userIds.Length != scores.Length)
        {
            throw new ArgumentException($"{nameof(userIds)} has {userIds.Length} elements but {nameof(scores)} has {scores.Length}.", nameof(userIds));
        }

        var rowsByUser = new Dictionary<long, List<int>>();
        for (int i = 0; i < userIds.Length; i++)
        {
            if (!rowsByUser.TryGetValue(userIds[i], out var rows))
            {
                rows = new List<int>();
                rowsByUser.Add(userIds[i], rows);
            }

            rows.Add(i);
        }

        double weighted = 0;
        long weight = 0;
        foreach (var rows in rowsByUser.Values)
        {
            var s = new float[rows.Count];
            var l = new float[rows.Count];
            for (int k = 0; k < rows.Count; k++)
            {
                s[k] = scores[rows[k]];
                l[k] = labels[rows[k]];
            }

            double auc = Auc(s, l);
            if (double.IsNaN(auc))
            {
                continue;
            }

            weighted += auc * rows.Count;
            weight += rows.Count;
        }

        return weight == 0 ? double.NaN : weighted / weight;
    }

    /// <summary>
    /// Mean binary cross-entropy of probabilities against 0/1 labels, with probabilities clipped to
    /// [<see cref="LogLossEpsilon"/>, 1 - <see cref="LogLossEpsilon"/>] so a confident mistake costs a finite amount.
    /// </summary>
    /// <param name="probabilities">Predicted click probabilities in [0, 1].</param>
    /// <param name="labels">0/1 labels.</param>
    /// <returns>The mean log loss; <see cref="double.NaN"/> for empty input.</returns>
    /// <exception cref="ArgumentException">Lengths differ, a label is not 0 or 1, or a probability is NaN or outside [0, 1].</exception>
    public static double LogLoss(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> labels)
    {
        Check(probabilities, labels);
        if (probabilities.Length == 0)
        {
            return double.NaN;
        }

        double sum = 0;
        for (int i = 0; i < probabilities.Length; i++)
        {
            double p = probabilities[i];
            if (p < 0 || p > 1)
            {
                throw new ArgumentException($"{nameof(probabilities)}[{i}] = {p}: a probability must be in [0, 1].", nameof(probabilities));
            }

            p = Math.Clamp(p, LogLossEpsilon, 1 - LogLossEpsilon);
            sum -= labels[i] == 1f ? Math.Log(p) : Math.Log(1 - p);
        }

        return sum / probabilities.Length;
    }

    private static void Check(ReadOnlySpan<float> scores, ReadOnlySpan<float> labels)
    {
        if (scores.Length != labels.Length)
        {
            throw new ArgumentException($"labels has {labels.Length} elements but scores has {scores.Length}.", nameof(labels));
        }

        for (int i = 0; i < scores.Length; i++)
        {
            if (float.IsNaN(scores[i]))
            {
                throw new ArgumentException($"scores[{i}] is NaN.", nameof(scores));
            }

            if (labels[i] != 0f && labels[i] != 1f)
            {
                throw new ArgumentException($"labels[{i}] = {labels[i]}: labels must be 0 or 1.", nameof(labels));
            }
        }
    }
}
