namespace Dien.Data.Batching;

/// <summary>
/// A batch's history columns at the valid positions only, row after row (row b's <c>Lengths[b]</c> values, then row
/// b + 1's): the form a <see cref="Batcher"/> builds and <see cref="BatchArrays"/> keeps until a caller reads a padded column.
/// </summary>
/// <param name="Items">History item ids, [sum of lengths].</param>
/// <param name="Categories">History category ids, [sum of lengths].</param>
/// <param name="NegativeItems">Sampled negative items, [sum of lengths]; null when none were sampled.</param>
/// <param name="NegativeCategories">Categories of the negatives, [sum of lengths]; null with <paramref name="NegativeItems"/>.</param>
/// <param name="HistoryLabels">Per-position 0/1 labels, [sum of lengths]; null when not wanted.</param>
internal sealed record PackedHistories(long[] Items, long[] Categories, long[]? NegativeItems, long[]? NegativeCategories, float[]? HistoryLabels);
