using System.Globalization;

namespace Dien.Data.Converters;

/// <summary>
/// Converts MovieLens <c>ratings.csv</c> (<c>userId,movieId,rating,timestamp</c>) and <c>movies.csv</c>
/// (<c>movieId,title,genres</c>, titles quoted when they hold commas) into samples.
/// </summary>
/// <remarks>
/// Rules:
/// <list type="bullet">
/// <item>Order: each user's ratings by timestamp, ties broken by movieId (ascending).</item>
/// <item>Category: the first genre listed (<c>Adventure|Animation</c> -> Adventure); "(no genres listed)" is a category of its own; a movie missing from movies.csv gets category 0.</item>
/// <item>Label: the last rated movie is the positive target (label 1) whatever its rating; one negative
/// target (label 0) is a uniformly drawn movie the user never rated. Both share the history.</item>
/// <item>History: every earlier rating; history labels are 1 for a rating &gt;= 4, else 0 (for the labelled-history auxiliary loss).</item>
/// <item>Ids: users, movies and genres get ids by descending frequency over the ratings, ties by ordinal string order, from 1.</item>
/// <item>Split: by user, seeded; or by time (<see cref="ConversionOptions.SplitByTime"/>, the timestamps are unix seconds). Negative pool: every rating's movie.</item>
/// </list>
/// </remarks>
public static class MovieLensConverter
{
    /// <summary>Reads both files and builds the data set.</summary>
    /// <param name="ratingsPath"><c>ratings.csv</c>.</param>
    /// <param name="moviesPath"><c>movies.csv</c>.</param>
    /// <param name="options">Split, seed, bad lines.</param>
    /// <exception cref="DataFormatException">A malformed line, unless skipped.</exception>
    /// <exception cref="DataOptionsException">The options are invalid; every problem is listed. A time split whose cut leaves nothing to train on or to test is one.</exception>
    public static ConvertedDataset Convert(string ratingsPath, string moviesPath, ConversionOptions? options = null)
    {
        options ??= new ConversionOptions();
        options.EnsureValid();
        var genreOf = ReadMovies(moviesPath, options.Read);
        var bad = new ConverterSupport.BadLines(ratingsPath, options.Read);
        var rows = new List<(string User, string Movie, long MovieKey, double Rating, long Time)>();
        long lineNumber = 0;
        foreach (string line in File.ReadLines(ratingsPath))
        {
            lineNumber++;
            if (lineNumber == 1 && line.StartsWith("userId", StringComparison.Ordinal))
            {
                continue;
            }

            if (line.Length == 0)
            {
                continue;
            }

            var f = ConverterSupport.SplitCsv(line);
            if (f is null || f.Count != 4)
            {
                bad.Report(lineNumber, f is null ? "a quoted field is not closed" : $"expected 4 fields (userId,movieId,rating,timestamp) but found {f.Count}");
                continue;
            }

            if (!long.TryParse(f[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out long movie)
                || !double.TryParse(f[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double rating)
                || !long.TryParse(f[3], NumberStyles.Integer, CultureInfo.InvariantCulture, out long time) || f[0].Length == 0)
            {
                bad.Report(lineNumber, $"userId {Quote.Of(f[0])}, movieId {Quote.Of(f[1])}, rating {Quote.Of(f[2])} or timestamp {Quote.Of(f[3])} is not a number");
                continue;
            }

            rows.Add((f[0], f[1], movie, rating, time));
        }

        var users = Vocabulary.FromFrequencies(rows.Select(r => r.User));
        var movies = Vocabulary.FromFrequencies(rows.Select(r => r.Movie));
        const string NoGenre = "";
        var genres = Vocabulary.FromFrequencies(rows.Select(r => genreOf.GetValueOrDefault(r.Movie, NoGenre)).Where(g => g.Length > 0));
        var itemCategories = new long[movies.Size];
        foreach (var (movie, id) in movies.Entries)
        {
            itemCategories[id] = genres.IdOf(genreOf.GetValueOrDefault(movie, NoGenre));
        }

        var builder = new PairBuilder(itemCategories, options);
        builder.SetTestUsers(ConverterSupport.TestUsers(users.Entries.Values.Select(v => (long)v), options.TestUserFraction, options.Seed));
        if (options.SplitByTime is { } split && rows.Count > 0)
        {
            var (validationCut, cut) = split.Resolve(rows.Select(r => r.Time * 1000).ToArray(), ratingsPath);
            builder.SetTimeCuts(validationCut, cut);
        }

        foreach (var group in rows.GroupBy(r => r.User).OrderBy(g => users.IdOf(g.Key)))
        {
            var ordered = group.OrderBy(r => r.Time).ThenBy(r => r.MovieKey).ToArray();
            var items = ordered.Select(r => (long)movies.IdOf(r.Movie)).ToArray();
            var cats = items.Select(i => itemCategories[i]).ToArray();
            var labels = ordered.Select(r => r.Rating >= 4 ? 1f : 0f).ToArray();
            builder.Add(users.IdOf(group.Key), items, cats, labels, items.Length - 1, times: ordered.Select(r => r.Time * 1000).ToArray());
        }

        return builder.ToDataset(users, movies, genres, PairBuilder.Occurrences(rows.Select(r => (long)movies.IdOf(r.Movie)), movies.Size), ratingsPath, lineNumber, bad);
    }

    /// <summary>Reads <c>movies.csv</c> into movieId -> first genre.</summary>
    /// <param name="path">The file.</param>
    /// <param name="options">Bad lines.</param>
    public static Dictionary<string, string> ReadMovies(string path, ReadOptions? options = null)
    {
        var bad = new ConverterSupport.BadLines(path, options ?? new ReadOptions());
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        long lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if ((lineNumber == 1 && line.StartsWith("movieId", StringComparison.Ordinal)) || line.Length == 0)
            {
                continue;
            }

            var f = ConverterSupport.SplitCsv(line);
            if (f is null || f.Count != 3 || f[0].Length == 0)
            {
                bad.Report(lineNumber, f is null ? "a quoted field is not closed" : $"expected 3 fields (movieId,title,genres) but found {f.Count}");
                continue;
            }

            result[f[0]] = f[2].Split('|')[0];
        }

        return result;
    }
}
