using System.Diagnostics;
using Dien.Data;
using Dien.Data.Converters;
using Dien.Data.Events;
using Parquet;
using Parquet.Schema;

namespace Dien.Bench;

/// <summary>
/// The <c>eventlog</c> mode: writes a generated event log as Parquet (users whose interest drifts between
/// categories, in time order, as a click log is kept), then reads it with the library's event-log reader and
/// prints the rows per second and the peak resident memory, which grows with the users and the distinct keys, not
/// with the rows: past 4 x 2^20 events the table spills to a temporary file (<c>--users</c> fixed and <c>--rows</c>
/// raised shows it). The file is deleted afterwards unless <c>--keep</c> names where to leave it
/// (docs/event-logs.md trains on such a file).
/// </summary>
internal static class EventLogBenchmark
{
    /// <summary>The mapping of the generated file's columns.</summary>
    public const string Columns = "user=user_id,item=item_id,time=ts,category=category_id,behaviour=behaviour,targets=pv";

    private const int RowGroup = 1 << 20;

    public static void Run(string[] args)
    {
        long rows = 10_000_000;
        int? users = null;
        string? keep = null;
        bool pairs = false;
        for (int i = 1; i < args.Length; i++)
        {
            string flag = args[i];
            if (flag == "--pairs")
            {
                pairs = true;
                continue;
            }

            string value = i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{flag} needs a value.");
            switch (flag)
            {
                case "--rows": rows = QualityBenchmark.QualitySettings.Read<long>(flag, value); break;
                case "--users": users = QualityBenchmark.QualitySettings.Read<int>(flag, value); break;
                case "--keep": keep = value; break;
                default: throw new ArgumentException($"{flag}: unknown option of the eventlog mode (--rows, --users, --keep <file>, --pairs).");
            }
        }

        if (users is < 1)
        {
            throw new ArgumentException(FormattableString.Invariant($"--users {users}: expected at least 1."));
        }

        if (rows < 1 || rows > 2_000_000_000)
        {
            throw new ArgumentException(FormattableString.Invariant($"--rows {rows}: expected 1 .. 2,000,000,000."));
        }

        string path = keep ?? Path.Combine(Path.GetTempPath(), $"dien-eventlog-{Environment.ProcessId}.parquet");
        try
        {
            var watch = Stopwatch.StartNew();
            var (userCount, items) = Write(path, rows, users ?? (int)Math.Max(10, rows / 50));
            double written = watch.Elapsed.TotalSeconds;
            long bytes = new FileInfo(path).Length;
            Console.WriteLine(FormattableString.Invariant(
                $"eventlog: wrote {rows:N0} rows ({userCount:N0} users, {items:N0} items) to {path}: {bytes / 1048576.0:F1} MiB in {written:F1} s"));

            double liveBefore = GC.GetTotalMemory(forceFullCollection: true) / 1048576.0;
            double before = Memory.RssMiB();
            bool peakReset = Memory.ResetPeak();
            watch.Restart();
            var bad = new ConverterSupport.BadLines(new ReadOptions());
            using var table = EventLogReader.Read(path, EventColumns.Parse(Columns), bad);
            double read = watch.Elapsed.TotalSeconds;
            double peak = Memory.PeakRssMiB();
            double live = GC.GetTotalMemory(forceFullCollection: true) / 1048576.0;
            Console.WriteLine(FormattableString.Invariant(
                $"held: {live:F0} MiB of live managed memory after the read, {live - liveBefore:F0} MiB more than before it (the table's chunks in memory, at most 4 x 2^20 events, the vocabularies and per-user counts, and Parquet.Net's pooled buffers)"));
            Console.WriteLine(FormattableString.Invariant(
                $"read: {table.Events:N0} events of {table.UserCount:N0} users in {read:F1} s, {table.Lines / read:N0} rows/s; resident {before:F0} MiB before, peak {peak:F0} MiB{(peakReset ? string.Empty : " (peak of the whole process: /proc/self/clear_refs was not writable)")}, {(peak - before) * 1048576.0 / table.Events:F0} bytes per event over the start; {table.SpilledEvents:N0} events spilled to a temporary file"));
            if (pairs)
            {
                // One pair per user (its last page view, split by user): every behaviour as a target would hold rows x history ids.
                watch.Restart();
                var data = EventLogConverter.Build(table, new ConversionOptions { TrainingTargets = TrainingTargets.LastBehaviour }, bad);
                Console.WriteLine(FormattableString.Invariant(
                    $"pairs: {data.Train.Count:N0} train / {data.Test.Count:N0} test samples in {watch.Elapsed.TotalSeconds:F1} s; peak {Memory.PeakRssMiB():F0} MiB"));
            }
        }
        finally
        {
            if (keep is null && File.Exists(path))
            {
                File.Delete(path);
            }
        }
    }

    /// <summary>
    /// Writes <paramref name="rows"/> events in time order, one user per row drawn at random; a user's category drifts
    /// to a neighbour now and then and its items come from the current category, so histories predict the next item.
    /// </summary>
    private static (int Users, int Items) Write(string path, long rows, int users)
    {
        int categories = 500, perCategory = (int)Math.Clamp(rows / 2000, 20, 200);
        var random = new Random(2019);
        var interest = new int[users];
        for (int u = 0; u < users; u++)
        {
            interest[u] = random.Next(categories);
        }

        string[] behaviours = ["pv", "pv", "pv", "pv", "pv", "pv", "pv", "pv", "pv", "pv", "pv", "pv", "pv", "pv", "pv", "pv", "cart", "fav", "buy", "buy"];
        var start = new DateTime(2017, 11, 25, 0, 0, 0, DateTimeKind.Utc);
        double step = TimeSpan.FromDays(9).TotalMilliseconds / rows;
        Task.Run(async () =>
        {
            var user = new DataField<long>("user_id");
            var item = new DataField<long>("item_id");
            var category = new DataField<int>("category_id");
            var behaviour = new DataField<string>("behaviour");
            var ts = new DataField<DateTime>("ts");
            var schema = new ParquetSchema(user, item, category, behaviour, ts);
            await using var stream = File.Create(path);
            await using var writer = await ParquetWriter.CreateAsync(schema, stream);
            var u = new long[RowGroup];
            var it = new long[RowGroup];
            var c = new int[RowGroup];
            var b = new string[RowGroup];
            var t = new DateTime[RowGroup];
            for (long done = 0; done < rows;)
            {
                int n = (int)Math.Min(RowGroup, rows - done);
                for (int r = 0; r < n; r++)
                {
                    int who = random.Next(users);
                    if (random.Next(10) == 0)
                    {
                        interest[who] = (interest[who] + categories + random.Next(-2, 3)) % categories;
                    }

                    int cat = interest[who];
                    (u[r], c[r], it[r], b[r]) = (who + 1, cat + 1, 1 + ((long)cat * perCategory) + random.Next(perCategory), behaviours[random.Next(behaviours.Length)]);
                    t[r] = start.AddMilliseconds((done + r) * step);
                }

                using var group = writer.CreateRowGroup();
                await group.WriteAsync<long>(user, u.AsMemory(0, n));
                await group.WriteAsync<long>(item, it.AsMemory(0, n));
                await group.WriteAsync<int>(category, c.AsMemory(0, n));
                await group.WriteAsync(behaviour, new ArraySegment<string>(b, 0, n));
                await group.WriteAsync<DateTime>(ts, t.AsMemory(0, n));
                done += n;
            }
        }).GetAwaiter().GetResult();
        return (users, categories * perCategory);
    }
}
