using System.Diagnostics;
using System.Globalization;
using Dien.Data;
using Dien.Data.Converters;

namespace Dien.Bench;

/// <summary>
/// The <c>converters</c> mode: writes a generated log as the raw files of one converter (Taobao's UserBehavior CSV,
/// or MovieLens' ratings.csv and movies.csv), converts it once (one pair per user, split by user) and prints the
/// time, the bytes allocated and the peak resident memory of the conversion. Run one converter per process, so that
/// each peak is its own. The files are deleted afterwards unless <c>--keep</c> names a folder to leave them in
/// (another build can then convert the same files).
/// </summary>
internal static class ConverterBenchmark
{
    /// <summary>The event-log mapping of a Taobao file.</summary>
    private const string TaobaoColumns = "user=1,item=2,category=3,behaviour=4,time=5,targets=pv,header=no";

    public static void Run(string[] args)
    {
        long rows = 5_000_000;
        int? users = null, items = null;
        string converter = "taobao";
        string? keep = null;
        for (int i = 1; i < args.Length; i++)
        {
            string flag = args[i];
            string value = i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{flag} needs a value.");
            switch (flag)
            {
                case "--rows": rows = QualityBenchmark.QualitySettings.Read<long>(flag, value); break;
                case "--users": users = QualityBenchmark.QualitySettings.Read<int>(flag, value); break;
                case "--items": items = QualityBenchmark.QualitySettings.Read<int>(flag, value); break;
                case "--converter": converter = value; break;
                case "--keep": keep = value; break;
                default: throw new ArgumentException($"{flag}: unknown option of the converters mode (--rows, --users, --items, --converter taobao|events|movielens, --keep <folder>).");
            }
        }

        if (converter is not ("taobao" or "events" or "movielens"))
        {
            throw new ArgumentException($"--converter {converter}: expected taobao, events (the Taobao file through EventLogConverter) or movielens.");
        }

        if (rows < 1 || rows > 1_000_000_000 || users is < 1 || items is < 1)
        {
            throw new ArgumentException(FormattableString.Invariant($"--rows {rows}, --users {users}, --items {items}: expected rows in 1 .. 1,000,000,000 and at least 1 user and item."));
        }

        bool movieLens = converter == "movielens";
        int userCount = users ?? (int)Math.Max(1, rows / (movieLens ? 143 : 100));
        int itemCount = items ?? (movieLens ? 80_000 : 4_000_000);
        string folder = keep ?? Path.Combine(Path.GetTempPath(), $"dien-converters-{Environment.ProcessId}");
        Directory.CreateDirectory(folder);
        try
        {
            var watch = Stopwatch.StartNew();
            string[] files = movieLens ? WriteMovieLens(folder, rows, userCount, itemCount) : [WriteTaobao(folder, rows, userCount, itemCount)];
            Console.WriteLine(FormattableString.Invariant(
                $"converters: wrote {rows:N0} rows ({userCount:N0} users, items drawn from {itemCount:N0}) to {folder} in {watch.Elapsed.TotalSeconds:F1} s"));

            GC.Collect();
            double before = Memory.RssMiB();
            bool peakReset = Memory.ResetPeak();
            long allocated = GC.GetTotalAllocatedBytes(precise: true);
            watch.Restart();
            var options = new ConversionOptions { TrainingTargets = TrainingTargets.LastBehaviour };
            var data = converter switch
            {
                "taobao" => TaobaoConverter.Convert(files, options),
                "events" => EventLogConverter.Convert(files[0], EventColumns.Parse(TaobaoColumns), options),
                _ => MovieLensConverter.Convert(files[0], files[1], options),
            };
            double seconds = watch.Elapsed.TotalSeconds;
            double peak = Memory.PeakRssMiB();
            Console.WriteLine(FormattableString.Invariant(
                $"{converter}: {data.Summary.Lines:N0} lines in {seconds:F1} s ({data.Summary.Lines / seconds:N0} lines/s), {(GC.GetTotalAllocatedBytes(precise: true) - allocated) / 1048576.0:N0} MiB allocated; resident {before:F0} MiB before, peak {peak:F0} MiB{(peakReset ? string.Empty : " (of the whole process: /proc/self/clear_refs was not writable)")}"));
            Console.WriteLine(FormattableString.Invariant(
                $"{converter}: {data.Users.Count:N0} users, {data.Items.Count:N0} items, {data.Categories.Count:N0} categories; {data.Train.Count:N0} train / {data.Test.Count:N0} test samples"));
        }
        finally
        {
            if (keep is null)
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    /// <summary>
    /// UserBehavior.csv: each user's rows together, in time order, items uniform over <paramref name="items"/> (their
    /// category a function of the item), 89 % page views; the layout of the upstream file.
    /// </summary>
    private static string WriteTaobao(string folder, long rows, int users, int items)
    {
        string path = Path.Combine(folder, "UserBehavior.csv");
        var random = new Random(2019);
        string[] behaviours = [.. Enumerable.Repeat("pv", 89), .. Enumerable.Repeat("cart", 6), .. Enumerable.Repeat("fav", 3), "buy", "buy"];
        using var writer = new StreamWriter(path);
        foreach (var (user, time) in Events(rows, users, random, start: 1_511_544_070, spread: 86_400, gap: 3000))
        {
            int item = random.Next(1, items + 1);
            writer.Write(string.Create(CultureInfo.InvariantCulture, $"{user},{item},{(item % 9000) + 1},{behaviours[random.Next(behaviours.Length)]},{time}\n"));
        }

        return path;
    }

    /// <summary>ratings.csv (each user's ratings together, in time order, movies uniform over <paramref name="movies"/>) and movies.csv (two genres each, titles quoted).</summary>
    private static string[] WriteMovieLens(string folder, long rows, int users, int movies)
    {
        var random = new Random(2019);
        string ratings = Path.Combine(folder, "ratings.csv"), titles = Path.Combine(folder, "movies.csv");
        using (var writer = new StreamWriter(ratings))
        {
            writer.Write("userId,movieId,rating,timestamp\n");
            foreach (var (user, time) in Events(rows, users, random, start: 1_300_000_000, spread: 100_000_000, gap: 5000))
            {
                writer.Write(string.Create(CultureInfo.InvariantCulture, $"{user},{random.Next(1, movies + 1)},{random.Next(1, 11) / 2.0},{time}\n"));
            }
        }

        string[] genres = ["Action", "Comedy", "Drama", "Horror", "Romance", "Thriller", "(no genres listed)"];
        using (var writer = new StreamWriter(titles))
        {
            writer.Write("movieId,title,genres\n");
            for (int movie = 1; movie <= movies; movie++)
            {
                writer.Write(string.Create(CultureInfo.InvariantCulture, $"{movie},\"Movie {movie}, The (2000)\",{genres[random.Next(genres.Length)]}|{genres[random.Next(genres.Length)]}\n"));
            }
        }

        return [ratings, titles];
    }

    /// <summary>
    /// The log's events as (user, unix seconds): each user's together, users 1.. in turn with shares of
    /// <paramref name="rows"/> that differ by at most one, each user starting within <paramref name="spread"/> seconds
    /// of <paramref name="start"/> and moving on by 1 .. <paramref name="gap"/> - 1 seconds an event.
    /// </summary>
    private static IEnumerable<(int User, long Time)> Events(long rows, int users, Random random, long start, int spread, int gap)
    {
        long written = 0;
        for (int user = 1; user <= users && written < rows; user++)
        {
            long time = start + random.Next(spread);
            long count = (rows - written) / (users - user + 1);
            for (long e = 0; e < count; e++, written++)
            {
                time += random.Next(1, gap);
                yield return (user, time);
            }
        }
    }
}
