using System.Globalization;

namespace Dien.Data.Converters;

/// <summary>
/// Converts Taobao <c>UserBehavior.csv</c> rows (no header: <c>user,item,category,behavior,timestamp</c>,
/// behavior one of pv, buy, cart, fav) into samples. Several files (slices) can be read together.
/// </summary>
/// <remarks>
/// Rules:
/// <list type="bullet">
/// <item>Order: each user's rows by timestamp, ties by item id, then by file order.</item>
/// <item>Label: the user's last pv (page view) is the positive target (label 1); one negative target
/// (label 0) is a uniformly drawn item the user never touched. Users without a pv are skipped (counted
/// as dropped).</item>
/// <item>History: every behaviour before that pv, of any type; history labels are 1 for buy, cart or fav and 0 for pv.</item>
/// <item>Category: the row's category (an item's first seen category if it varies).</item>
/// <item>Ids: users, items and categories by descending frequency, ties by ordinal string order, from 1.</item>
/// <item>Split: by user, seeded; or by time (<see cref="ConversionOptions.SplitByTime"/>: every page view after the cut is a test target, the timestamps are unix seconds). Negative pool: every row's item.</item>
/// </list>
/// </remarks>
public static class TaobaoConverter
{
    private static readonly HashSet<string> Behaviours = new(StringComparer.Ordinal) { "pv", "buy", "cart", "fav" };

    /// <summary>Reads the files and builds the data set.</summary>
    /// <param name="paths">One or more UserBehavior slices.</param>
    /// <param name="options">Split, seed, bad lines.</param>
    /// <exception cref="DataFormatException">A malformed row, unless skipped.</exception>
    /// <exception cref="DataOptionsException">The options are invalid; every problem is listed. A time split whose cut leaves nothing to train on or to test is one.</exception>
    public static ConvertedDataset Convert(IEnumerable<string> paths, ConversionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        options ??= new ConversionOptions();
        options.EnsureValid();
        var rows = new List<(string User, string Item, long ItemKey, string Category, bool Engaged, long Time, long Order)>();
        long lines = 0;
        var pathList = paths.ToList();
        var bad = new ConverterSupport.BadLines(options.Read);
        foreach (string path in pathList)
        {
            bad.Path = path;
            long lineNumber = 0;
            foreach (string raw in File.ReadLines(path))
            {
                lineNumber++;
                string line = raw.TrimEnd('\r');
                if (line.Length == 0)
                {
                    continue;
                }

                string[] f = line.Split(',');
                if (f.Length != 5)
                {
                    bad.Report(lineNumber, $"expected 5 fields (user,item,category,behavior,timestamp) but found {f.Length}");
                    continue;
                }

                if (!Behaviours.Contains(f[3]))
                {
                    bad.Report(lineNumber, $"behavior {Quote.Of(f[3])} is not pv, buy, cart or fav");
                    continue;
                }

                if (!long.TryParse(f[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out long itemKey)
                    || !long.TryParse(f[4], NumberStyles.Integer, CultureInfo.InvariantCulture, out long time) || f[0].Length == 0 || f[2].Length == 0)
                {
                    bad.Report(lineNumber, $"user {Quote.Of(f[0])}, item {Quote.Of(f[1])}, category {Quote.Of(f[2])} or timestamp {Quote.Of(f[4])} is not valid");
                    continue;
                }

                rows.Add((f[0], f[1], itemKey, f[2], f[3] != "pv", time, rows.Count));
            }

            lines += lineNumber;
        }

        var users = Vocabulary.FromFrequencies(rows.Select(r => r.User));
        var items = Vocabulary.FromFrequencies(rows.Select(r => r.Item));
        var categories = Vocabulary.FromFrequencies(rows.Select(r => r.Category));
        var itemCategories = new long[items.Size];
        foreach (var r in rows)
        {
            int id = items.IdOf(r.Item);
            if (itemCategories[id] == 0)
            {
                itemCategories[id] = categories.IdOf(r.Category);
            }
        }

        var builder = new PairBuilder(itemCategories, options);
        builder.SetTestUsers(ConverterSupport.TestUsers(users.Entries.Values.Select(v => (long)v), options.TestUserFraction, options.Seed));
        if (options.SplitByTime is { } split && rows.Count > 0)
        {
            var (validationCut, cut) = split.Resolve(rows.Select(r => r.Time * 1000).ToArray(), string.Join(", ", pathList));
            builder.SetTimeCuts(validationCut, cut);
        }

        long withoutView = 0;
        foreach (var group in rows.GroupBy(r => r.User).OrderBy(g => users.IdOf(g.Key)))
        {
            var ordered = group.OrderBy(r => r.Time).ThenBy(r => r.ItemKey).ThenBy(r => r.Order).ToArray();
            int target = Array.FindLastIndex(ordered, r => !r.Engaged);
            if (target < 0)
            {
                withoutView++;
                continue;
            }

            var ids = ordered.Select(r => (long)items.IdOf(r.Item)).ToArray();
            var cats = ordered.Select(r => (long)categories.IdOf(r.Category)).ToArray();
            var labels = ordered.Select(r => r.Engaged ? 1f : 0f).ToArray();
            builder.Add(users.IdOf(group.Key), ids, cats, labels, target, canBeTarget: t => !ordered[t].Engaged, times: ordered.Select(r => r.Time * 1000).ToArray());
        }

        return builder.ToDataset(
            users, items, categories, PairBuilder.Occurrences(rows.Select(r => (long)items.IdOf(r.Item)), items.Size), string.Join(", ", pathList), lines, bad, otherDropped: withoutView);
    }
}
