namespace Dien.Data;

/// <summary>
/// One training or test example in id space: a user, a target item with its category, the user's
/// behaviour history (oldest first) and a click label.
/// </summary>
/// <remarks>Id 0 means padding or out-of-vocabulary everywhere (see <see cref="Vocabulary"/>).</remarks>
public sealed record Sample
{
    /// <summary>Click label, 0 or 1.</summary>
    public required float Label { get; init; }

    /// <summary>User id.</summary>
    public required long User { get; init; }

    /// <summary>Target item id.</summary>
    public required long TargetItem { get; init; }

    /// <summary>Target category id.</summary>
    public required long TargetCategory { get; init; }

    /// <summary>History item ids, oldest first.</summary>
    public required long[] HistoryItems { get; init; }

    /// <summary>History category ids, oldest first; same length as <see cref="HistoryItems"/>.</summary>
    public required long[] HistoryCategories { get; init; }

    /// <summary>
    /// The key that groups this sample with the other impressions of its user for GAUC, when the user id
    /// cannot: users outside the vocabulary all share id 0 (in a file split by user, every test user does).
    /// Null groups by <see cref="User"/>. Readers of raw user strings set it from the string itself.
    /// </summary>
    public long? Group { get; init; }

    /// <summary>Optional per-behaviour 0/1 labels (e.g. 1 for buy/cart/fav), same length as <see cref="HistoryItems"/>.</summary>
    public float[]? HistoryLabels { get; init; }

    /// <summary>Optional extra categorical field ids (the same count for every sample of a data set).</summary>
    public long[]? ExtraFields { get; init; }

    /// <summary>Number of behaviours in the history.</summary>
    public int HistoryLength => HistoryItems.Length;
}
