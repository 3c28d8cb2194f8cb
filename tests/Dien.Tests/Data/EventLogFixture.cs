using System.Globalization;
using Parquet;
using Parquet.Schema;

namespace Dien.Tests.Data;

/// <summary>
/// A small seeded event log, made by the tests themselves (no downloaded data), written as CSV and as Parquet
/// with Parquet.Net: users as text, items as integers, categories as nullable integers, times as timestamps in
/// Parquet and unix seconds in CSV, behaviours as text and a click label.
/// </summary>
internal sealed class EventLogFixture
{
    public static readonly DateTime Start = new(2017, 11, 25, 0, 0, 0, DateTimeKind.Utc);

    public EventLogFixture(int seed = 7, int users = 30, int items = 40, int eventsPerUser = 12)
    {
        var random = new Random(seed);
        for (int u = 0; u < users; u++)
        {
            var time = Start.AddHours(random.Next(48));
            for (int e = 0; e < eventsPerUser; e++)
            {
                long item = 100 + random.Next(items);
                // Ties of time on purpose: file order must break them the same way in both formats.
                time = time.AddMinutes(random.Next(3) == 0 ? 0 : random.Next(1, 600));
                Rows.Add(new Row(
                    $"u{u:D2}", item, item % 7 == 0 ? null : (int)(item % 5),
                    time, random.Next(4) switch { 0 => "buy", 1 => "cart", _ => "pv" }, random.Next(3) > 0));
            }
        }

        // Rows interleave users, as a log in time order does: each user's events are not contiguous.
        Rows = Rows.OrderBy(r => r.Time).ThenBy(r => r.User, StringComparer.Ordinal).ToList();
    }

    public List<Row> Rows { get; private set; } = [];

    /// <summary>Writes rows [from, to) as CSV with a header (times in unix seconds).</summary>
    public string WriteCsv(string path, int from = 0, int? to = null, char delimiter = ',')
    {
        using var writer = new StreamWriter(path);
        writer.WriteLine(string.Join(delimiter, "user_id", "item_id", "category", "ts", "behaviour", "clicked"));
        foreach (var r in Rows.Take(to ?? Rows.Count).Skip(from))
        {
            long seconds = new DateTimeOffset(r.Time).ToUnixTimeSeconds();
            writer.WriteLine(string.Join(delimiter, r.User, r.Item.ToString(CultureInfo.InvariantCulture), r.Category?.ToString(CultureInfo.InvariantCulture) ?? string.Empty,
                seconds.ToString(CultureInfo.InvariantCulture), r.Behaviour, r.Clicked ? "1" : "0"));
        }

        return path;
    }

    /// <summary>Writes rows [from, to) as Parquet, in row groups of <paramref name="rowGroup"/> rows.</summary>
    public string WriteParquet(string path, int from = 0, int? to = null, int rowGroup = 100) =>
        Write(path, Rows.Take(to ?? Rows.Count).Skip(from).ToList(), rowGroup);

    /// <summary>Writes <paramref name="rows"/> as Parquet (nullable user, so a test can put a null in it).</summary>
    public static string Write(string path, IReadOnlyList<Row> rows, int rowGroup = 100, bool nullableUser = false)
    {
        Task.Run(async () =>
        {
            var user = new DataField<string>("user_id", nullableUser);
            var item = new DataField<long>("item_id");
            var category = new DataField<int?>("category");
            var ts = new DataField<DateTime>("ts");
            var behaviour = new DataField<string>("behaviour");
            var clicked = new DataField<bool>("clicked");
            var schema = new ParquetSchema(user, item, category, ts, behaviour, clicked);
            await using var stream = File.Create(path);
            await using var writer = await ParquetWriter.CreateAsync(schema, stream);
            for (int start = 0; start < rows.Count; start += rowGroup)
            {
                var part = rows.Skip(start).Take(rowGroup).ToList();
                using var group = writer.CreateRowGroup();
                await group.WriteAsync(user, part.Select(r => r.User).ToArray());
                await group.WriteAsync<long>(item, part.Select(r => r.Item).ToArray());
                await group.WriteAsync<int>(category, part.Select(r => r.Category).ToArray());
                await group.WriteAsync<DateTime>(ts, part.Select(r => r.Time).ToArray());
                await group.WriteAsync(behaviour, part.Select(r => r.Behaviour).ToArray());
                await group.WriteAsync<bool>(clicked, part.Select(r => r.Clicked).ToArray());
            }
        }).GetAwaiter().GetResult();
        return path;
    }

    /// <summary>One event.</summary>
    public sealed record Row(string User, long Item, int? Category, DateTime Time, string Behaviour, bool Clicked);
}
