using System.Globalization;
using Dien.Runtime;

namespace Dien.Data.Converters;

/// <summary>
/// Splits a log by time, as a production model is trained and judged: the events before a cut train, the
/// events after it test, and every pair's history holds the user's events before its target (never one after
/// it). Validation, which picks the epoch, is the last slice of the training period (its latest events). Users are seen on both
/// sides, so the user field can pay, unlike in a split by user.
/// </summary>
/// <remarks>
/// Set it on <see cref="ConversionOptions.SplitByTime"/>; without it the converters split by user
/// (<see cref="ConversionOptions.TestUserFraction"/>). Every behaviour that can be a target after the cut becomes
/// a test pair (the next day's traffic), and every one in the validation slice a validation pair;
/// <see cref="ConversionOptions.TrainingTargets"/> chooses the training pairs among those before the validation slice.
/// </remarks>
public sealed record TimeSplit
{
    /// <summary>The cut as an instant: events at or after it test; null when <see cref="Last"/> is set.</summary>
    /// <value>The default value is null.</value>
    public DateTimeOffset? Cut { get; init; }

    /// <summary>The test period as the last stretch of the log, ending at its last event; null when <see cref="Cut"/> is set.</summary>
    /// <value>The default value is null. <c>TimeSpan.FromDays(1)</c> tests on the log's last day, as a daily retrain does.</value>
    public TimeSpan? Last { get; init; }

    /// <summary>The share of the training period's events, the latest ones, held out as validation: the slice from the time where they start to the cut.</summary>
    /// <value>
    /// The default value is 0.1, as the sample's share of validation users in a split by user. Counted in events, not
    /// in time, so that a few stray early timestamps (the Taobao slices hold some from September, two months before
    /// the rest) cannot stretch the slice. 0 holds nothing out (the caller then validates otherwise).
    /// </value>
    public double ValidationFraction { get; init; } = 0.1;

    /// <summary>A split at an instant.</summary>
    /// <param name="cut">Events at or after it test.</param>
    public static TimeSplit At(DateTimeOffset cut) => new() { Cut = cut };

    /// <summary>A split that tests on the log's last <paramref name="period"/>.</summary>
    /// <param name="period">The length of the test period.</param>
    public static TimeSplit LastPeriod(TimeSpan period) => new() { Last = period };

    /// <summary>
    /// Reads a cut as the sample's <c>--split time:&lt;cut&gt;</c> gives it: <c>last7d</c>, <c>last12h</c> or
    /// <c>last30m</c> (the log's last days, hours or minutes), an ISO 8601 instant (<c>2017-12-03</c>,
    /// <c>2017-12-03T08:00:00Z</c>; without an offset it is UTC), or unix seconds (<c>1512259200</c>).
    /// </summary>
    /// <param name="text">The cut.</param>
    /// <returns>The split, with the default validation fraction.</returns>
    /// <exception cref="FormatException">The text is none of these; the message quotes it.</exception>
    public static TimeSplit Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim();
        if (t.StartsWith("last", StringComparison.OrdinalIgnoreCase) && t.Length > 5)
        {
            char unit = char.ToLowerInvariant(t[^1]);
            if (double.TryParse(t.AsSpan(4, t.Length - 5), NumberStyles.Float, CultureInfo.InvariantCulture, out double n) && n > 0 && double.IsFinite(n)
                && unit is 'd' or 'h' or 'm')
            {
                return LastPeriod(unit switch { 'd' => TimeSpan.FromDays(n), 'h' => TimeSpan.FromHours(n), _ => TimeSpan.FromMinutes(n) });
            }
        }
        else if (long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out long seconds)
            && seconds is > -62135596800 and < 253402300800)
        {
            return At(DateTimeOffset.FromUnixTimeSeconds(seconds));
        }
        else if (DateTimeOffset.TryParse(t, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var instant))
        {
            return At(instant);
        }

        throw new FormatException($"time cut {Quote.Of(text)} is not lastNd, lastNh or lastNm (the log's last days, hours or minutes), an ISO 8601 instant (2017-12-03T08:00:00Z) or unix seconds.");
    }

    /// <summary>Every problem with this split, each naming its option; empty when it is valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new OptionErrors();
        if ((Cut is null) == (Last is null))
        {
            errors.Add($"{nameof(TimeSplit)}: set exactly one of {nameof(Cut)} (an instant) and {nameof(Last)} (the log's last period); {(Cut is null ? "neither is set" : "both are set")}.");
        }

        errors.Require(Last is null || Last > TimeSpan.Zero, nameof(Last), Last, "must be a positive period");
        errors.Require(ValidationFraction is >= 0 and < 1, nameof(ValidationFraction), ValidationFraction, "must be in [0, 1)");
        return errors.Errors;
    }

    /// <inheritdoc/>
    public override string ToString() =>
        (Cut is { } cut ? $"time split at {cut.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC" : $"time split testing on the last {Last}")
        + $", validation on the latest {ValidationFraction:P0} of the training events";

    /// <summary>
    /// The cut and the start of the validation slice, in unix milliseconds, for a log whose events happen at
    /// <paramref name="times"/> (unix milliseconds, any order). The times are enumerated a few times and never held:
    /// a spilled event log streams them from its file.
    /// </summary>
    /// <exception cref="DataOptionsException">The cut leaves nothing to train on or nothing to test; the message gives the log's span.</exception>
    internal (long ValidationCut, long Cut) Resolve(IEnumerable<long> times, string source)
    {
        long first = long.MaxValue, last = long.MinValue;
        foreach (long t in times)
        {
            (first, last) = (Math.Min(first, t), Math.Max(last, t));
        }

        long cut = Cut is { } at ? at.ToUnixTimeMilliseconds() : last - (long)Last!.Value.TotalMilliseconds;
        string span = $"{source} spans {Show(first)} .. {Show(last)} UTC";
        if (cut <= first)
        {
            DataOptionsException.ThrowIfAny(nameof(ConversionOptions), [$"{nameof(ConversionOptions.SplitByTime)}: the cut {Show(cut)} UTC leaves nothing to train on: {span}."]);
        }

        if (cut > last)
        {
            DataOptionsException.ThrowIfAny(nameof(ConversionOptions), [$"{nameof(ConversionOptions.SplitByTime)}: the cut {Show(cut)} UTC leaves nothing to test: {span}."]);
        }

        // The validation slice starts at the time of the first of the latest ValidationFraction of the training events.
        long before = times.LongCount(t => t < cut);
        long held = (long)Math.Round(ValidationFraction * before);
        return held == 0 ? (cut, cut) : (LargestBelow(times, first, cut, held, before), cut);
    }

    /// <summary>
    /// The <paramref name="k"/>-th largest (from 1) of the <paramref name="inRange"/> <paramref name="times"/> in
    /// [<paramref name="low"/>, <paramref name="high"/>): narrowed to one of 4,096 bins by a counting pass while
    /// more than <paramref name="collect"/> are left, then collected and sorted, so that memory stays fixed whatever
    /// the log's length.
    /// </summary>
    internal static long LargestBelow(IEnumerable<long> times, long low, long high, long k, long inRange, int collect = 1 << 20)
    {
        const int Bins = 4096;
        var counts = new long[Bins];
        while (inRange > collect)
        {
            // Unsigned: the width of any two longs fits in 64 bits.
            ulong binWidth = (unchecked((ulong)(high - low)) / Bins) + 1;
            Array.Clear(counts);
            foreach (long t in times)
            {
                if (t >= low && t < high)
                {
                    counts[unchecked((ulong)(t - low)) / binWidth]++;
                }
            }

            int bin = Bins - 1;
            for (long above = 0; ; bin--)
            {
                if (above + counts[bin] >= k)
                {
                    k -= above;
                    break;
                }

                above += counts[bin];
            }

            long binLow = unchecked(low + (long)((ulong)bin * binWidth));
            if (binWidth == 1)
            {
                return binLow;
            }

            (low, high, inRange) = (binLow, unchecked((ulong)(high - binLow)) > binWidth ? unchecked(binLow + (long)binWidth) : high, counts[bin]);
        }

        var held = times.Where(t => t >= low && t < high).ToArray();
        Array.Sort(held);
        return held[held.Length - k];
    }

    private static string Show(long unixMilliseconds) =>
        DateTimeOffset.FromUnixTimeMilliseconds(Math.Clamp(unixMilliseconds, -62135596800000, 253402300799999)).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
}
