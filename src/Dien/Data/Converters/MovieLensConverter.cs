using System.Globalization;
using Dien.Data.Events;

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
    /// <remarks>
    /// The ratings are held as ids, 32 bytes each, with the users and movies interned as they are read; a line makes
    /// no string (10 million generated ratings peaked at about 880 MiB: docs/data.md).
    /// </remarks>
    public static ConvertedDataset Convert(string ratingsPath, string moviesPath, ConversionOptions? options = null)
    {
        options ??= new ConversionOptions();
        options.EnsureValid();
        var genreOf = ReadMovies(moviesPath, options.Read);
        var bad = new ConverterSupport.BadLines(ratingsPath, options.Read);
        var log = ReadRatings(ratingsPath, bad, out long lines);
        var rows = log.Rows;
        var (users, userIds) = log.Users.Finish();
        var (movies, movieIds) = log.Movies.Finish();
        var occurrences = PairBuilder.Occurrences(rows.Select(r => (long)movieIds[r.Movie]), movies.Size);

        // Genres ranked by their ratings: each movie's count goes to its first genre.
        var genreCounts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (movie, id) in movies.Entries)
        {
            if (genreOf.GetValueOrDefault(movie) is { Length: > 0 } genre)
            {
                genreCounts[genre] = genreCounts.GetValueOrDefault(genre) + occurrences[id];
            }
        }

        var genres = Vocabulary.FromCounts(genreCounts);
        var itemCategories = new long[movies.Size];
        foreach (var (movie, id) in movies.Entries)
        {
            itemCategories[id] = genres.IdOf(genreOf.GetValueOrDefault(movie, string.Empty));
        }

        var builder = new PairBuilder(itemCategories, options);
        builder.SetTestUsers(ConverterSupport.TestUsers(users.Entries.Values.Select(v => (long)v), options.TestUserFraction, options.Seed));
        if (options.SplitByTime is { } split && rows.Count > 0)
        {
            var (validationCut, cut) = split.Resolve(rows.Select(r => r.Time * 1000).ToArray(), ratingsPath);
            builder.SetTimeCuts(validationCut, cut);
        }

        // Each user's ratings by time, ties by the movie's number, then file order.
        var byUser = RowsByUser.Group(rows.Count, row => userIds[rows[row].User], users.Size);
        var order = RowsByUser.ByTime(row => rows[row].Time, row => rows[row].MovieKey);
        for (int user = 1; user < users.Size; user++)
        {
            var indices = byUser.Sorted(user, order);
            var items = new long[indices.Length];
            var labels = new float[indices.Length];
            var times = new long[indices.Length];
            for (int t = 0; t < indices.Length; t++)
            {
                var r = rows[indices[t]];
                (items[t], labels[t], times[t]) = (movieIds[r.Movie], r.Value >= 4 ? 1f : 0f, r.Time * 1000);
            }

            builder.Add(user, items, items.Select(i => itemCategories[i]).ToArray(), labels, items.Length - 1, times: times);
        }

        return builder.ToDataset(users, movies, genres, occurrences, ratingsPath, lines, bad);
    }

    /// <summary>Reads <c>ratings.csv</c>'s rows as interned ids, reporting bad lines.</summary>
    private static RatingLog ReadRatings(string path, ConverterSupport.BadLines bad, out long lineNumber)
    {
        var log = new RatingLog();
        var fields = new Range[4];
        lineNumber = 0;
        using var reader = new LineReader(path);
        while (reader.TryReadLine(out var line))
        {
            lineNumber++;
            if ((lineNumber == 1 && line.StartsWith("userId", StringComparison.Ordinal)) || line.IsEmpty)
            {
                continue;
            }

            int count = ConverterSupport.SplitFields(line, ',', fields, out var text);
            if (count != fields.Length)
            {
                bad.Report(lineNumber, count < 0 ? "a quoted field is not closed" : $"expected 4 fields (userId,movieId,rating,timestamp) but found {count}");
                continue;
            }

            ReadOnlySpan<char> user = text[fields[0]], movie = text[fields[1]], rating = text[fields[2]], time = text[fields[3]];
            if (!long.TryParse(movie, NumberStyles.Integer, CultureInfo.InvariantCulture, out long movieKey)
                || !double.TryParse(rating, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
                || !long.TryParse(time, NumberStyles.Integer, CultureInfo.InvariantCulture, out long seconds) || user.IsEmpty)
            {
                bad.Report(lineNumber, $"userId {Quote.Of(user.ToString())}, movieId {Quote.Of(movie.ToString())}, rating {Quote.Of(rating.ToString())} or timestamp {Quote.Of(time.ToString())} is not a number");
                continue;
            }

            log.Rows.Add(new Rating(seconds, movieKey, value, log.Users.Of(user), log.Movies.Of(movie)));
        }

        return log;
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

    /// <summary>A rating as ids: its time, the movie's number (ties in time go by it), the rating, and provisional user and movie ids.</summary>
    private readonly record struct Rating(long Time, long MovieKey, double Value, int User, int Movie);

    /// <summary>The ratings read, 32 bytes each, with their interned users and movies.</summary>
    private sealed class RatingLog
    {
        public List<Rating> Rows { get; } = [];

        public KeyInterner Users { get; } = new();

        public KeyInterner Movies { get; } = new();
    }
}
