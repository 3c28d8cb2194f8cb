namespace Dien.Data;

/// <summary>Quotes a value read from a file in an error message, cut short so that a huge field cannot make a huge message.</summary>
internal static class Quote
{
    /// <summary>The most characters of a value an error message shows.</summary>
    public const int MaxChars = 80;

    /// <summary>
    /// <c>'value'</c>, or for a value longer than <see cref="MaxChars"/> its first <see cref="MaxChars"/> characters
    /// and its length: <c>'abc…' (5000000 chars)</c>. Control characters are shown as <c>\uXXXX</c>.
    /// </summary>
    public static string Of(string? value)
    {
        if (value is null)
        {
            return "(none)";
        }

        var sb = new System.Text.StringBuilder(Math.Min(value.Length, MaxChars) + 24);
        sb.Append('\'');
        int shown = Math.Min(value.Length, MaxChars);
        for (int i = 0; i < shown; i++)
        {
            char c = value[i];
            if (char.IsControl(c))
            {
                sb.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append(c);
            }
        }

        sb.Append('\'');
        if (value.Length > MaxChars)
        {
            sb.Insert(sb.Length - 1, "…").Append(System.Globalization.CultureInfo.InvariantCulture, $" ({value.Length} chars)");
        }

        return sb.ToString();
    }
}
