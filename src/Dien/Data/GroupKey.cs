namespace Dien.Data;

/// <summary>
/// A stable 64-bit key of a raw user string (FNV-1a over its UTF-16 code units), so that impressions of the
/// same user group together for GAUC even when the user is outside the vocabulary. The same string gives the
/// same key in every process and on every platform, unlike <see cref="string.GetHashCode()"/>.
/// </summary>
internal static class GroupKey
{
    private const ulong OffsetBasis = 14695981039346656037;
    private const ulong Prime = 1099511628211;

    /// <summary>The key of <paramref name="user"/>.</summary>
    public static long Of(string user) => Of(user.AsSpan());

    /// <summary>The key of the characters <paramref name="user"/>, as of the same string.</summary>
    public static long Of(ReadOnlySpan<char> user)
    {
        ulong hash = OffsetBasis;
        foreach (char c in user)
        {
            hash = (hash ^ (c & 0xFFu)) * Prime;
            hash = (hash ^ (uint)(c >> 8)) * Prime;
        }

        return unchecked((long)hash);
    }
}
