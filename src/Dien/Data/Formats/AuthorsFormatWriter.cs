using System.Globalization;
using System.Text;

namespace Dien.Data.Formats;

/// <summary>
/// Writes samples in the authors' format (<c>label \t uid \t mid \t cat \t mid_history \t cat_history</c>,
/// histories joined by 0x02, oldest first, no trailing separator, LF line ends), so any converted data
/// can be fed to the authors' scripts or read back by <see cref="AuthorsFormatReader"/>.
/// </summary>
/// <remarks>
/// Ids are written as strings through the given names (id -> string); without names, the decimal id is
/// written. Lines are written in the order given: the converters here emit each user's negative before
/// the positive, as the authors' files do.
/// </remarks>
public static class AuthorsFormatWriter
{
    /// <summary>Writes <paramref name="samples"/> to <paramref name="path"/>.</summary>
    /// <param name="path">Target file.</param>
    /// <param name="samples">The samples.</param>
    /// <param name="userName">id -> uid string; null writes the id.</param>
    /// <param name="itemName">id -> mid string; null writes the id.</param>
    /// <param name="categoryName">id -> category string; null writes the id.</param>
    /// <returns>Number of lines written.</returns>
    public static long Write(string path, IEnumerable<Sample> samples, Func<long, string>? userName = null,
        Func<long, string>? itemName = null, Func<long, string>? categoryName = null)
    {
        ArgumentNullException.ThrowIfNull(samples);
        static string Id(long id) => id.ToString(CultureInfo.InvariantCulture);
        userName ??= Id;
        itemName ??= Id;
        categoryName ??= Id;
        long count = 0;
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false)) { NewLine = "\n" };
        var sb = new StringBuilder();
        foreach (var s in samples)
        {
            sb.Clear();
            sb.Append(s.Label == 1f ? '1' : '0').Append('\t')
              .Append(userName(s.User)).Append('\t')
              .Append(itemName(s.TargetItem)).Append('\t')
              .Append(categoryName(s.TargetCategory)).Append('\t');
            for (int i = 0; i < s.HistoryItems.Length; i++)
            {
                sb.Append(i == 0 ? string.Empty : AuthorsFormatReader.HistorySeparator.ToString()).Append(itemName(s.HistoryItems[i]));
            }

            sb.Append('\t');
            for (int i = 0; i < s.HistoryCategories.Length; i++)
            {
                sb.Append(i == 0 ? string.Empty : AuthorsFormatReader.HistorySeparator.ToString()).Append(categoryName(s.HistoryCategories[i]));
            }

            writer.WriteLine(sb.ToString());
            count++;
        }

        return count;
    }
}
