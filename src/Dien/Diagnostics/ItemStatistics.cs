using Dien.Data;

namespace Dien.Diagnostics;

/// <summary>
/// Counts over the histories of one group of users, for <see cref="OrderSignal"/>: clicks per item, how often
/// one item comes before another in a user's sequence, and how often it comes directly before it.
/// </summary>
internal sealed class ItemStatistics
{
    /// <summary>Only a sequence's most recent items are paired, so that a long history costs O(window^2), not O(L^2).</summary>
    internal const int Window = 50;

    private readonly Dictionary<long, int> clicks = new();
    private readonly Dictionary<(long Before, long After), int> before = new();
    private readonly Dictionary<(long Before, long After), int> next = new();

    private ItemStatistics()
    {
    }

    /// <summary>
    /// Counts the samples' clicks, and pairs within each user's sequence: the clicked sample with the longest
    /// history, its history then its target (in the authors' files, where a user's samples are the prefixes of one
    /// sequence, that is the whole sequence), or the longest history when the user has no click.
    /// </summary>
    public static ItemStatistics Count(IEnumerable<Sample> samples)
    {
        var statistics = new ItemStatistics();
        var sequences = new Dictionary<long, long[]>();
        foreach (var sample in samples)
        {
            if (sample.Label == 1)
            {
                statistics.clicks[sample.TargetItem] = statistics.clicks.GetValueOrDefault(sample.TargetItem) + 1;
            }

            long[] sequence = sample.Label == 1 ? [.. sample.HistoryItems, sample.TargetItem] : sample.HistoryItems;
            if (!sequences.TryGetValue(sample.User, out var kept) || sequence.Length > kept.Length)
            {
                sequences[sample.User] = sequence;
            }
        }

        foreach (var sequence in sequences.Values)
        {
            int start = Math.Max(0, sequence.Length - Window);
            for (int i = start; i < sequence.Length; i++)
            {
                if (i + 1 < sequence.Length)
                {
                    Increment(statistics.next, (sequence[i], sequence[i + 1]));
                }

                for (int j = i + 1; j < sequence.Length; j++)
                {
                    Increment(statistics.before, (sequence[i], sequence[j]));
                }
            }
        }

        return statistics;
    }

    /// <summary>Clicks on the item.</summary>
    public int Clicks(long item) => clicks.GetValueOrDefault(item);

    /// <summary>Sequences in which <paramref name="first"/> came before <paramref name="second"/> (counted once per pair of positions).</summary>
    public int Before(long first, long second) => before.GetValueOrDefault((first, second));

    /// <summary>Pairs of positions holding the two items in either order: co-occurrence without direction.</summary>
    public int Together(long a, long b) => Before(a, b) + (a == b ? 0 : Before(b, a));

    /// <summary>Sequences in which <paramref name="second"/> came directly after <paramref name="first"/>.</summary>
    public int Next(long first, long second) => next.GetValueOrDefault((first, second));

    private static void Increment(Dictionary<(long, long), int> counts, (long, long) key) =>
        counts[key] = counts.GetValueOrDefault(key) + 1;
}
