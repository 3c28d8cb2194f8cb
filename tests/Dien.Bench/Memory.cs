namespace Dien.Bench;

/// <summary>Resident memory of this process from /proc/self/status (Linux); NaN elsewhere.</summary>
internal static class Memory
{
    public static double RssMiB() => Read("VmRSS:");

    public static double PeakRssMiB() => Read("VmHWM:");

    /// <summary>Starts the peak (<see cref="PeakRssMiB"/>) again from the current resident size; false where /proc/self/clear_refs is not writable.</summary>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

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
