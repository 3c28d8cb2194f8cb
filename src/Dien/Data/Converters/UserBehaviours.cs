namespace Dien.Data.Converters;

/// <summary>One user's behaviours in order, as <see cref="PairBuilder"/> reads them.</summary>
/// <param name="Items">Item ids.</param>
/// <param name="Categories">Their category ids.</param>
/// <param name="Labels">Per-behaviour history labels (1 for an engagement), or null.</param>
/// <param name="Times">Unix milliseconds of each behaviour; needed by a split by time.</param>
/// <param name="CanBeTarget">Which positions may be targets; null: all.</param>
/// <param name="InHistory">Which behaviours enter later histories; null: all.</param>
/// <param name="TargetLabels">The log's own click label of each position; null: each target is a positive against a drawn negative.</param>
internal sealed record UserBehaviours(
    IReadOnlyList<long> Items,
    IReadOnlyList<long> Categories,
    IReadOnlyList<float>? Labels,
    IReadOnlyList<long>? Times,
    Func<int, bool>? CanBeTarget,
    IReadOnlyList<bool>? InHistory,
    IReadOnlyList<float>? TargetLabels);
