namespace Dien.Data.Formats;

/// <summary>Readers of the authors' side files <c>item-info</c> and <c>reviews-info</c>.</summary>
internal static class AuthorsSideFiles
{
    /// <summary>Reads <c>item-info</c> (<c>asin \t category</c>) into asin -> category string.</summary>
    /// <param name="path">The file.</param>
    /// <param name="options">Bad-line handling.</param>
    /// <exception cref="DataFormatException">A line without exactly 2 fields (unless skipped).</exception>
    public static Dictionary<string, string> ReadItemInfo(string path, ReadOptions? options = null)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string[] f in Fields(path, 2, "asin \\t category", options ?? new ReadOptions()))
        {
            result[f[0]] = f[1];
        }

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
        foreach (string[] f in Fields(path, 4, "reviewerID \\t asin \\t rating \\t unixTime", options ?? new ReadOptions()))
        {
            items.Add(f[1]);
        }

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
        var categoryOf = ReadItemInfo(itemInfoPath, options);
        var pool = new List<(long, long)>();
        foreach (string asin in ReadReviewItems(reviewsInfoPath, options))
        {
            long item = vocabularies.Items.IdOf(asin);
            if (item != 0)
            {
                pool.Add((item, vocabularies.Categories.IdOf(categoryOf.GetValueOrDefault(asin, string.Empty))));
            }
        }

        return pool;
    }

    private static IEnumerable<string[]> Fields(string path, int count, string layout, ReadOptions options)
    {
        long lineNumber = 0, skipped = 0, kept = 0;
        string? first = null;
        foreach (string raw in File.ReadLines(path))
        {
            lineNumber++;
            string line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }

            string[] fields = line.Split('\t');
            if (fields.Length != count)
            {
                string problem = $"expected {count} tab-separated fields ({layout}) but found {fields.Length}";
                if (!options.SkipBadLines)
                {
                    throw new DataFormatException(path, lineNumber, problem);
                }

                skipped++;
                first ??= $"line {lineNumber}: {problem}";
                continue;
            }

            kept++;
            yield return fields;
        }

        options.Completed?.Report(new ReadSummary { Source = path, Lines = lineNumber, Samples = kept, SkippedLines = skipped, FirstProblem = first });
    }
}
