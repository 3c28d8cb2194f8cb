using Dien.Data.Batching;
using Dien.Model;

namespace Dien.Tests.Training;

/// <summary>
/// Generated batches with a learnable signal: a user clicks items whose category matches the category
/// most frequent in their history. Deterministic for a seed.
/// </summary>
internal static class TinyData
{
    public static List<BatchArrays> Batches(int seed, int count, int size = 16, int width = 5)
    {
        var random = new Random(seed);
        var batches = new List<BatchArrays>();
        for (int n = 0; n < count; n++)
        {
            var users = new long[size];
            var targets = new long[size];
            var targetCategories = new long[size];
            var history = new long[size * width];
            var historyCategories = new long[size * width];
            var lengths = new int[size];
            var labels = new float[size];
            for (int b = 0; b < size; b++)
            {
                users[b] = random.Next(1, 30);
                int favourite = (int)(users[b] % 5) + 1;
                lengths[b] = random.Next(1, width + 1);
                for (int t = 0; t < lengths[b]; t++)
                {
                    long item = (favourite * 7) + random.Next(0, 5);
                    history[(b * width) + t] = item;
                    historyCategories[(b * width) + t] = favourite;
                }

                bool click = random.NextDouble() < 0.5;
                int category = click ? favourite : (favourite % 5) + 1;
                targets[b] = (category * 7) + random.Next(0, 5);
                targetCategories[b] = category;
                labels[b] = click ? 1f : 0f;
            }

            batches.Add(new BatchArrays
            {
                Size = size,
                Width = width,
                UserIds = users,
                TargetItems = targets,
                TargetCategories = targetCategories,
                HistoryItems = history,
                HistoryCategories = historyCategories,
                Lengths = lengths,
                Labels = labels,
            });
        }

        return batches;
    }

    /// <summary>The training batches of an epoch: the same pool, shuffled by a seeded generator per epoch.</summary>
    public static Func<int, IEnumerable<BatchArrays>> Epochs(List<BatchArrays> pool, int seed) =>
        epoch =>
        {
            var order = pool.ToArray();
            new Random(seed + epoch).Shuffle(order);
            return order;
        };
}
