namespace Dien.Data.Formats;

/// <summary>Readers of the authors' side files <c>item-info</c> and <c>reviews-info</c>.</summary>
internal static class AuthorsSideFiles
{
    /// <summary>One well-formed line: its characters and the ranges of its fields (exactly as many as the file has).</summary>
    private delegate void LineFields(ReadOnlySpan<char> line, ReadOnlySpan<Range> fields);

    /// <summary>Reads <c>item-info</c> (<c>asin \t category</c>) into asin -> category string.</summary>
    /// <param name="path">The file.</param>
    /// <param name="options">Bad-line handling.</param>
    /// <exception cref="DataFormatException">A line without exactly 2 fields (unless skipped).</exception>
    public static Dictionary<string, string> ReadItemInfo(string path, ReadOptions? options = null)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        ReadFields(path, 2, "asin \\t category", options ?? new ReadOptions(), (line, f) => result[line[f[0]].ToString()] = line[f[1]].ToString());
        return result;
    }

    /// <summary>
    /// Reads the item column of <c>reviews-info</c> (<c>reviewerID \t asin \t rating \t unixTime</c>):
    /// one entry per review, so frequent items appear often. This is the authors' pool for sampled negatives.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="options">Bad-line handling.</param>
    public static List<string> ReadReviewItems(string path, ReadOptions? options = null)
    {
        var items = new List<string>();
        ReadFields(path, ReviewFields, ReviewLayout, options ?? new ReadOptions(), (line, f) => items.Add(line[f[1]].ToString()));
        return items;
    }

    /// <summary>
    /// The authors' negative pool in id space: every review's item from <c>reviews-info</c> with its category
    /// from <c>item-info</c>, through the vocabularies (unknown strings -> 0; items mapping to 0 are left out).
    /// Feed it to <see cref="Batching.NegativeSampler"/>.
    /// </summary>
    /// <param name="reviewsInfoPath"><c>reviews-info</c>.</param>
    /// <param name="itemInfoPath"><c>item-info</c>.</param>
    /// <param name="vocabularies">The id tables.</param>
    /// <param name="options">Bad-line handling.</param>
    public static List<(long Item, long Category)> ReadNegativePool(string reviewsInfoPath, string itemInfoPath, AuthorsVocabularies vocabularies, ReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(vocabularies);

        // Each asin's category id, once per asin of item-info; a review's asin is then looked up by its characters,
        // with no string per review (reviews-info has a line per review, item-info one per item).
        var categoryOf = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (asin, category) in ReadItemInfo(itemInfoPath, options))
        {
            categoryOf[asin] = vocabularies.Categories.IdOf(category);
        }

        long noCategory = vocabularies.Categories.IdOf(string.Empty);
#if NET9_0_OR_GREATER
        var categoryBySpan = categoryOf.GetAlternateLookup<ReadOnlySpan<char>>();
#endif
        var pool = new List<(long, long)>();
        ReadFields(reviewsInfoPath, ReviewFields, ReviewLayout, options ?? new ReadOptions(), (line, f) =>
        {
            var asin = line[f[1]];
            long item = vocabularies.Items.IdOf(asin);
            if (item != 0)
            {
#if NET9_0_OR_GREATER
                pool.Add((item, categoryBySpan.TryGetValue(asin, out long category) ? category : noCategory));
#else
                pool.Add((item, categoryOf.TryGetValue(asin.ToString(), out long category) ? category : noCategory));
#endif
            }
        });
        return pool;
    }

    private const int ReviewFields = 4;
    private const string ReviewLayout = "reviewerID \\t asin \\t rating \\t unixTime";

    /// <summary>
    /// Hands every non-empty line of <paramref name="path"/> with exactly <paramref name="count"/> tab-separated fields
    /// to <paramref name="take"/>; any other line throws, or is skipped and counted under
    /// <see cref="ReadOptions.SkipBadLines"/>. Reports a <see cref="ReadSummary"/> to <see cref="ReadOptions.Completed"/>.
    /// </summary>
    private static void ReadFields(string path, int count, string layout, ReadOptions options, LineFields take)
    {
        long lineNumber = 0, skipped = 0, kept = 0;
        string? first = null;
        Span<Range> ranges = stackalloc Range[count + 1]; // one more than needed: a line with more fields fills it
        using var reader = new LineReader(path);
        while (reader.TryReadLine(out var line))
        {
            lineNumber++;
            if (line.IsEmpty)
            {
                continue;
            }

            if (line.Split(ranges, '\t') != count)
            {
                string problem = $"expected {count} tab-separated fields ({layout}) but found {line.Count('\t') + 1}";
                if (!options.SkipBadLines)
                {
                    throw new DataFormatException(path, lineNumber, problem);
                }

                skipped++;
                first ??= $"line {lineNumber}: {problem}";
                continue;
            }

            kept++;
            take(line, ranges[..count]);
        }

        options.Completed?.Report(new ReadSummary { Source = path, Lines = lineNumber, Samples = kept, SkippedLines = skipped, FirstProblem = first });
    }
}
