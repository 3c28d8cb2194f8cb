using System.Globalization;
using Dien.Data.Events;

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
    /// <summary>Reads the files and builds the data set.</summary>
    /// <param name="paths">One or more UserBehavior slices.</param>
    /// <param name="options">Split, seed, bad lines.</param>
    /// <exception cref="DataFormatException">A malformed row, unless skipped.</exception>
    /// <exception cref="DataOptionsException">The options are invalid; every problem is listed. A time split whose cut leaves nothing to train on or to test is one.</exception>
    /// <remarks>
    /// The rows are held as ids, 32 bytes each, with the users, items and categories interned as they are read; a
    /// line makes no string. A generated file of 20 million rows peaked at 2.2 GB (docs/data.md); a log beyond
    /// memory goes through <see cref="EventLogConverter"/>, which spills.
    /// </remarks>
    public static ConvertedDataset Convert(IEnumerable<string> paths, ConversionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        options ??= new ConversionOptions();
        options.EnsureValid();
        var pathList = paths.ToList();
        var bad = new ConverterSupport.BadLines(options.Read);
        var log = Read(pathList, bad, out long lines);
        var (users, userIds) = log.Users.Finish();
        var (items, itemIds) = log.Items.Finish();
        var (categories, categoryIds) = log.Categories.Finish();
        var rows = log.Rows;
        var itemCategories = new long[items.Size];
        for (int item = 0; item < itemIds.Length; item++)
        {
            itemCategories[itemIds[item]] = categoryIds[log.FirstCategory[item]];
        }

        var builder = new PairBuilder(itemCategories, options);
        builder.SetTestUsers(ConverterSupport.TestUsers(users.Entries.Values.Select(v => (long)v), options.TestUserFraction, options.Seed));
        if (options.SplitByTime is { } split && rows.Count > 0)
        {
            var (validationCut, cut) = split.Resolve(rows.Select(r => r.Time * 1000).ToArray(), string.Join(", ", pathList));
            builder.SetTimeCuts(validationCut, cut);
        }

        // Each user's rows by time, ties by the item's number, then file order.
        var byUser = RowsByUser.Group(rows.Count, row => userIds[rows[row].User], users.Size);
        var order = RowsByUser.ByTime(row => rows[row].Time, row => rows[row].ItemKey);
        long withoutView = 0;
        for (int user = 1; user < users.Size; user++)
        {
            var indices = byUser.Sorted(user, order);
            var ordered = new Row[indices.Length];
            for (int t = 0; t < ordered.Length; t++)
            {
                ordered[t] = rows[indices[t]];
            }

            int target = Array.FindLastIndex(ordered, r => !r.Engaged);
            if (target < 0)
            {
                withoutView++;
                continue;
            }

            var ids = ordered.Select(r => (long)itemIds[r.Item]).ToArray();
            var cats = ordered.Select(r => (long)categoryIds[r.Category]).ToArray();
            var labels = ordered.Select(r => r.Engaged ? 1f : 0f).ToArray();
            builder.Add(user, ids, cats, labels, target, canBeTarget: t => !ordered[t].Engaged, times: ordered.Select(r => r.Time * 1000).ToArray());
        }

        return builder.ToDataset(
            users, items, categories, PairBuilder.Occurrences(rows.Select(r => (long)itemIds[r.Item]), items.Size), string.Join(", ", pathList), lines, bad, otherDropped: withoutView);
    }

    /// <summary>Reads the files' rows as interned ids, reporting bad lines.</summary>
    private static TaobaoLog Read(List<string> paths, ConverterSupport.BadLines bad, out long lines)
    {
        var log = new TaobaoLog();
        var fields = new Range[5];
        lines = 0;
        foreach (string path in paths)
        {
            bad.Path = path;
            long lineNumber = 0;
            using (var reader = new LineReader(path))
            {
                while (reader.TryReadLine(out var line))
                {
                    lineNumber++;
                    if (line.IsEmpty)
                    {
                        continue;
                    }

                    int count = line.Count(',') + 1;
                    if (count != 5)
                    {
                        bad.Report(lineNumber, $"expected 5 fields (user,item,category,behavior,timestamp) but found {count}");
                        continue;
                    }

                    line.Split(fields, ',');
                    ReadOnlySpan<char> user = line[fields[0]], item = line[fields[1]], category = line[fields[2]], behaviour = line[fields[3]], time = line[fields[4]];
                    if (behaviour is not ("pv" or "buy" or "cart" or "fav"))
                    {
                        bad.Report(lineNumber, $"behavior {Quote.Of(behaviour.ToString())} is not pv, buy, cart or fav");
                        continue;
                    }

                    if (!long.TryParse(item, NumberStyles.Integer, CultureInfo.InvariantCulture, out long itemKey)
                        || !long.TryParse(time, NumberStyles.Integer, CultureInfo.InvariantCulture, out long seconds) || user.IsEmpty || category.IsEmpty)
                    {
                        bad.Report(lineNumber, $"user {Quote.Of(user.ToString())}, item {Quote.Of(item.ToString())}, category {Quote.Of(category.ToString())} or timestamp {Quote.Of(time.ToString())} is not valid");
                        continue;
                    }

                    log.Add(user, item, itemKey, category, engaged: behaviour is not "pv", seconds);
                }
            }

            lines += lineNumber;
        }

        return log;
    }

    /// <summary>A row as ids: provisional user, item and category ids, the item's number (ties in time go by it), and whether it is an engagement (not a page view).</summary>
    private readonly record struct Row(long Time, long ItemKey, int User, int Item, int Category, bool Engaged);

    /// <summary>The rows read so far, with their interned keys.</summary>
    private sealed class TaobaoLog
    {
        public List<Row> Rows { get; } = [];

        public KeyInterner Users { get; } = new();

        public KeyInterner Items { get; } = new();

        public KeyInterner Categories { get; } = new();

        /// <summary>Each item's category on its first row (by provisional ids).</summary>
        public List<int> FirstCategory { get; } = [];

        /// <summary>Adds a checked row.</summary>
        public void Add(ReadOnlySpan<char> user, ReadOnlySpan<char> item, long itemKey, ReadOnlySpan<char> category, bool engaged, long time)
        {
            int userId = Users.Of(user), itemId = Items.Of(item), categoryId = Categories.Of(category);
            if (itemId == FirstCategory.Count)
            {
                FirstCategory.Add(categoryId);
            }

            Rows.Add(new Row(time, itemKey, userId, itemId, categoryId, engaged));
        }
    }
}
