using System.Globalization;
using Dien.Data.Converters;

namespace Dien.Data.Events;

/// <summary>Reads the time and label values of a row, whatever the file's type for them; null (with a reason) when a value cannot be one.</summary>
internal static class EventValues
{
    private const long MaxMilliseconds = 253402300799999;
    private const long MinMilliseconds = -62135596800000;

    /// <summary>A number of the time column in unix milliseconds, or null when it is outside years 1 .. 9999.</summary>
    public static long? Time(long number, EventTimeUnit unit)
    {
        long limit = unit == EventTimeUnit.Seconds ? MaxMilliseconds / 1000 : MaxMilliseconds;
        if (number > limit || number < (unit == EventTimeUnit.Seconds ? MinMilliseconds / 1000 : MinMilliseconds))
        {
            return null;
        }

        return unit == EventTimeUnit.Seconds ? number * 1000 : number;
    }

    /// <summary>A timestamp in unix milliseconds; an unspecified kind is taken as UTC.</summary>
    public static long Time(DateTime time) =>
        new DateTimeOffset(time.Kind == DateTimeKind.Local ? time.ToUniversalTime() : DateTime.SpecifyKind(time, DateTimeKind.Utc)).ToUnixTimeMilliseconds();

    /// <summary>Text of the time column: an integer in <paramref name="unit"/>, or an ISO 8601 instant (UTC unless it says otherwise).</summary>
    public static long? Time(string text, EventTimeUnit unit) => Time(text.AsSpan(), unit);

    /// <summary>As <see cref="Time(string, EventTimeUnit)"/>, from characters.</summary>
    public static long? Time(ReadOnlySpan<char> text, EventTimeUnit unit)
    {
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long number))
        {
            return Time(number, unit);
        }

        return text.Length > 0 && char.IsAsciiDigit(text[0])
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var instant)
            ? instant.ToUnixTimeMilliseconds()
            : null;
    }

    /// <summary>Text of a label: 0, 1, false or true (any case, spaces around it ignored).</summary>
    public static bool? Label(ReadOnlySpan<char> text)
    {
        var t = text.Trim();
        return t switch
        {
            "1" => true,
            "0" => false,
            _ when t.Equals("true", StringComparison.OrdinalIgnoreCase) => true,
            _ when t.Equals("false", StringComparison.OrdinalIgnoreCase) => false,
            _ => null,
        };
    }

    /// <summary>A number of a label: 0 or 1.</summary>
    public static bool? Label(long number) => number switch { 1 => true, 0 => false, _ => null };

    /// <summary>Why a time value was refused, for messages.</summary>
    public static string TimeRule(EventTimeUnit unit) =>
        $"not a time (an ISO 8601 instant such as 2017-12-03T08:00:00Z, or unix {(unit == EventTimeUnit.Seconds ? "seconds" : "milliseconds")} within years 1 .. 9999)";

    /// <summary>Why a label value was refused, for messages.</summary>
    public const string LabelRule = "not a click label (0, 1, false or true)";
}
