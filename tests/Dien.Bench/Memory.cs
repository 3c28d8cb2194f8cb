namespace Dien.Bench;

/// <summary>Resident memory of this process from /proc/self/status (Linux); NaN elsewhere.</summary>
internal static class Memory
{
    public static double RssMiB() => Read("VmRSS:");

    public static double PeakRssMiB() => Read("VmHWM:");

    private static double Read(string field)
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status))
        {
            return double.NaN;
        }

        string? line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
        return line is null ? double.NaN : long.Parse(line[field.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
    }
}
