namespace Dien.Data;

/// <summary>
/// The largest id a file may give, relative to how many entries it has: ids index embedding tables, so one
/// absurd id (say 2147483646 among ten entries) would ask for a table of billions of rows.
/// </summary>
internal static class IdBound
{
    /// <summary>Ids per entry allowed (gaps in a table are fine up to this sparseness).</summary>
    public const long PerEntry = 16;

    /// <summary>Slack added for small tables.</summary>
    public const long Slack = 1024;

    /// <summary>The largest id allowed among <paramref name="entries"/> entries: 16 * entries + 1024.</summary>
    public static long Max(long entries) => Math.Min((PerEntry * entries) + Slack, int.MaxValue - 1L);

    /// <summary>Describes the rule for messages.</summary>
    public static string Rule(long entries) => $"ids may not exceed {Max(entries)} (16 x the {entries} entries + 1024)";
}
