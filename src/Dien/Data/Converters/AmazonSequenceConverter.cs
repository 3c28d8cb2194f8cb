using System.Globalization;
using System.Text.Json;

namespace Dien.Data.Converters;

/// <summary>
/// Converts Amazon per-user sequences with item attributes (the S3-Rec layout: <c>Beauty.txt</c> with
/// lines <c>user item item ...</c> oldest first, and <c>Beauty_item2attributes.json</c> mapping item ->
/// attribute ids) into samples.
/// </summary>
/// <remarks>
/// Rules:
/// <list type="bullet">
/// <item>Ids: the files' own user and item numbers are kept (they are already dense, from 1); the
/// vocabularies map their decimal strings to themselves.</item>
/// <item>Category: the item's last attribute id (in S3-Rec the last entry of the last category path, the
/// most specific); an item without attributes gets category 0.</item>
/// <item>Order: the file's order (S3-Rec sorted by review time).</item>
/// <item>Label: the user's last item is the positive target (label 1); one negative target (label 0) is
/// drawn uniformly from the items the user never had, with its category. Both share the history.</item>
/// <item>History: every earlier item; a user with one item has an empty history (kept or dropped by
/// <see cref="ReadOptions.KeepEmptyHistories"/>).</item>
/// <item>Split: by user, seeded (<see cref="ConversionOptions.TestUserFraction"/>).</item>
/// <item>Negative pool: every item occurrence of every sequence.</item>
/// </list>
/// </remarks>
public static class AmazonSequenceConverter
{
    /// <summary>Reads both files and builds the data set.</summary>
    /// <param name="sequencesPath">e.g. <c>Beauty.txt</c>.</param>
    /// <param name="attributesPath">e.g. <c>Beauty_item2attributes.json</c>.</param>
    /// <param name="options">Split, seed, bad lines.</param>
    /// <exception cref="DataFormatException">A malformed line (not integers, or no item), unless skipped.</exception>
    public static ConvertedDataset Convert(string sequencesPath, string attributesPath, ConversionOptions? options = null)
    {
        options ??= new ConversionOptions();
        var attributes = JsonSerializer.Deserialize<Dictionary<string, long[]>>(File.ReadAllText(attributesPath))
            ?? throw new DataFormatException(attributesPath, 1, "not a JSON object of item -> [attribute ids]");
        var bad = new ConverterSupport.BadLines(sequencesPath, options.Read);
        var sequences = new List<(long User, long[] Items)>();
        long lineNumber = 0, maxItem = 0;
        foreach (string raw in File.ReadLines(sequencesPath))
        {
            lineNumber++;
            string line = raw.Trim();
            if (line.Length == 0)
            {
                continue;
            }

            string[] tokens = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (tokens.Length < 2)
            {
                bad.Report(lineNumber, $"expected 'user item [item ...]' but found {tokens.Length} token(s)");
                continue;
            }

            var ids = new long[tokens.Length];
            int badToken = -1;
            for (int i = 0; i < tokens.Length && badToken < 0; i++)
            {
                if (!long.TryParse(tokens[i], NumberStyles.None, CultureInfo.InvariantCulture, out ids[i]) || ids[i] < 1 || ids[i] > int.MaxValue - 1)
                {
                    badToken = i;
                }
            }

            if (badToken >= 0)
            {
                bad.Report(lineNumber, $"token {badToken + 1} {Quote.Of(tokens[badToken])} is not a positive integer id");
                continue;
            }

            sequences.Add((ids[0], ids[1..]));
            maxItem = Math.Max(maxItem, ids[1..].Max());
        }

        long maxAttributeItem = attributes.Keys.Select(k => long.TryParse(k, out long v) ? v : 0).DefaultIfEmpty(0).Max();
        var itemCategories = new long[Math.Max(maxItem, maxAttributeItem) + 1];
        foreach (var (key, attrs) in attributes)
        {
            if (long.TryParse(key, out long item) && item > 0 && attrs.Length > 0)
            {
                itemCategories[item] = attrs[^1];
            }
        }

        var builder = new PairBuilder(itemCategories, options);
        builder.SetTestUsers(ConverterSupport.TestUsers(sequences.Select(s => s.User), options.TestUserFraction, options.Seed));
        var pool = new List<long>();
        foreach (var (user, items) in sequences)
        {
            var cats = items.Select(i => itemCategories[i]).ToArray();
            builder.Add(user, items, cats, null, items.Length - 1);
            pool.AddRange(items);
        }

        return builder.ToDataset(
            Identity(sequences.Select(s => s.User)),
            Identity(Enumerable.Range(1, itemCategories.Length - 1).Select(i => (long)i)),
            Identity(itemCategories.Where(c => c > 0).Distinct()),
            pool.ToArray(), sequencesPath, lineNumber, bad);
    }

    private static Vocabulary Identity(IEnumerable<long> ids) =>
        new(ids.Distinct().ToDictionary(id => id.ToString(CultureInfo.InvariantCulture), id => checked((int)id), StringComparer.Ordinal));
}
