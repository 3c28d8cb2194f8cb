namespace Dien.Data.Converters;

/// <summary>Options shared by the converters.</summary>
public sealed record ConversionOptions
{
    /// <summary>Share of users in the test split (default 0.2). Users are split, not samples, so no user is in both.</summary>
    public double TestUserFraction { get; init; } = 0.2;

    /// <summary>Seed of the user split and of the sampled negative targets.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Bad lines and empty histories.</summary>
    public ReadOptions Read { get; init; } = new();
}
