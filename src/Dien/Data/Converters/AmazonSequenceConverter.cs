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
    /// <returns>The samples, vocabularies and negative pool.</returns>
    /// <remarks>
    /// Ids are kept as the files give them, so they size the embedding tables: a user, item or category id larger
    /// than 16 x the number of distinct ones of its kind + 1024 is a malformed line (of the sequences, or of the
    /// attributes JSON for an item key or an attribute), as is an attribute entry whose key is not a positive
    /// integer or whose value is not an array of non-negative integers.
    /// </remarks>
    /// <exception cref="DataFormatException">A malformed line or entry (not integers, no item, an id far beyond the
    /// others), unless skipped; or an attributes file that is not complete JSON (never skipped). The message names the
    /// file, the line and the reason.</exception>
    /// <exception cref="DataOptionsException">The options are invalid; every problem is listed. A split by time is one: the files hold no timestamps.</exception>
    public static ConvertedDataset Convert(string sequencesPath, string attributesPath, ConversionOptions? options = null)
    {
        options ??= new ConversionOptions();
        options.EnsureValid();
        if (options.SplitByTime is not null)
        {
            DataOptionsException.ThrowIfAny(nameof(ConversionOptions), [$"{nameof(ConversionOptions.SplitByTime)}: the Amazon sequences hold no timestamps, only the order; split them by user ({nameof(ConversionOptions.TestUserFraction)})."]);
        }

        var bad = new ConverterSupport.BadLines(attributesPath, options.Read);
        var attributes = ReadAttributes(attributesPath, bad);
        bad.Path = sequencesPath;
        var sequences = new List<(long User, long[] Items, long Line)>();
        long lineNumber = 0;
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

            sequences.Add((ids[0], ids[1..], lineNumber));
        }

        // Ids size the tables: bound each kind by how many distinct ids of it there are.
        long maxUser = IdBound.Max(sequences.Select(s => s.User).Distinct().LongCount());
        long maxItem = IdBound.Max(sequences.SelectMany(s => s.Items).Concat(attributes.Select(a => a.Item)).Distinct().LongCount());
        long maxCategory = IdBound.Max(attributes.Where(a => a.Attributes.Length > 0).Select(a => a.Attributes[^1]).Distinct().LongCount());
        bad.Path = attributesPath;
        var itemCategory = new Dictionary<long, long>();
        foreach (var (item, attrs, line) in attributes)
        {
            long category = attrs.Length > 0 ? attrs[^1] : 0;
            if (item > maxItem || category > maxCategory)
            {
                bad.Report(line, item > maxItem
                    ? $"item {item} is far beyond the {maxItem} the file's item count allows (16 x the distinct items + 1024)"
                    : $"attribute {category} of item {item} is far beyond the {maxCategory} the file's category count allows (16 x the distinct categories + 1024)");
                continue;
            }

            itemCategory[item] = category;
        }

        bad.Path = sequencesPath;
        var kept = new List<(long User, long[] Items)>(sequences.Count);
        foreach (var (user, items, line) in sequences)
        {
            long far = items.Where(i => i > maxItem).DefaultIfEmpty(0).Max();
            if (user > maxUser || far > 0)
            {
                bad.Report(line, user > maxUser
                    ? $"user {user} is far beyond the {maxUser} the file's user count allows (16 x the distinct users + 1024)"
                    : $"item {far} is far beyond the {maxItem} the file's item count allows (16 x the distinct items + 1024)");
                continue;
            }

            kept.Add((user, items));
        }

        long tableSize = kept.SelectMany(s => s.Items).Concat(itemCategory.Keys).DefaultIfEmpty(0).Max() + 1;
        var itemCategories = new long[tableSize];
        foreach (var (item, category) in itemCategory)
        {
            itemCategories[item] = category;
        }

        var builder = new PairBuilder(itemCategories, options);
        builder.SetTestUsers(ConverterSupport.TestUsers(kept.Select(s => s.User), options.TestUserFraction, options.Seed));
        var pool = new List<long>();
        foreach (var (user, items) in kept)
        {
            var cats = items.Select(i => itemCategories[i]).ToArray();
            builder.Add(user, items, cats, null, items.Length - 1);
            pool.AddRange(items);
        }

        return builder.ToDataset(
            Identity(kept.Select(s => s.User)),
            Identity(Enumerable.Range(1, itemCategories.Length - 1).Select(i => (long)i)),
            Identity(itemCategories.Where(c => c > 0).Distinct()),
            PairBuilder.Occurrences(pool, itemCategories.Length), sequencesPath, lineNumber, bad);
    }

    /// <summary>Reads item -> [attribute ids]; bad entries go to <paramref name="bad"/>, incomplete JSON always throws.</summary>
    private static List<(long Item, long[] Attributes, long Line)> ReadAttributes(string path, ConverterSupport.BadLines bad)
    {
        byte[] bytes = File.ReadAllBytes(path);
        ReadOnlySpan<byte> json = bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? bytes.AsSpan(3) : bytes;
        var result = new List<(long, long[], long)>();
        var reader = new Utf8JsonReader(json);
        int bom = bytes.Length - json.Length;
        long LineAt(long offset) => bytes.AsSpan(0, (int)Math.Min(offset + bom, bytes.Length)).Count((byte)'\n') + 1;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new DataFormatException(path, 1, "not a JSON object of item -> [attribute ids]");
            }

            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                long line = LineAt(reader.TokenStartIndex);
                string key = reader.GetString()!;
                reader.Read();
                var values = new List<long>();
                bool valid = reader.TokenType == JsonTokenType.StartArray;
                if (valid)
                {
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        valid &= reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long v) && v >= 0 && v < int.MaxValue;
                        if (valid)
                        {
                            values.Add(reader.GetInt64());
                        }
                        else
                        {
                            reader.Skip();
                        }
                    }
                }
                else
                {
                    reader.Skip();
                }

                if (!long.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out long item) || item < 1 || item > int.MaxValue - 1)
                {
                    bad.Report(line, $"key {Quote.Of(key)} is not a positive integer item id");
                }
                else if (!valid)
                {
                    bad.Report(line, $"the attributes of item {item} are not an array of non-negative integers");
                }
                else
                {
                    result.Add((item, values.ToArray(), line));
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.CurrentDepth != 0 || reader.Read())
            {
                throw new DataFormatException(path, LineAt(reader.TokenStartIndex), "the JSON object is not closed, or content follows it (truncated or damaged)");
            }
        }
        catch (JsonException e)
        {
            throw new DataFormatException(path, (e.LineNumber ?? 0) + 1, $"the JSON is truncated or malformed ({e.Message})");
        }
        catch (InvalidOperationException e)
        {
            throw new DataFormatException(path, LineAt(reader.TokenStartIndex), $"a key is not valid UTF-8 text ({e.Message})");
        }

        return result;
    }

    private static Vocabulary Identity(IEnumerable<long> ids) =>
        new(ids.Distinct().ToDictionary(id => id.ToString(CultureInfo.InvariantCulture), id => checked((int)id), StringComparer.Ordinal));
}
