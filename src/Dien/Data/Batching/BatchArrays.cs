using System.Diagnostics.CodeAnalysis;

namespace Dien.Data.Batching;

/// <summary>
/// The host-side form of a batch: flat, row-major arrays as the data pipeline builds them (on any
/// thread, without touching libtorch). <see cref="BehaviourBatch"/> turns it into tensors.
/// </summary>
/// <remarks>
/// Histories are left-aligned, oldest first: row b holds its <c>Lengths[b]</c> behaviours at positions
/// 0 .. Lengths[b] - 1 of its <see cref="Width"/> slots; later slots are padding and their contents are
/// ignored by every model (id 0 by convention).
/// <para>
/// A <see cref="Batcher"/> keeps the history columns packed (the valid positions only, row after row) and lays out a
/// padded [B * T] array the first time a caller reads one. Training never reads them: an unbucketed batch of Amazon
/// histories is about 85 % padding, and allocating and filling those cells cost as much CPU per epoch as the rest of the
/// batch. Once read, a padded array is the batch's content for that column (changes to it are seen, as they always were).
/// Reading from several threads is safe.
/// </para>
/// </remarks>
public sealed class BatchArrays
{
    private readonly HistoryColumn<long> _historyItems = HistoryColumn<long>.None, _historyCategories = HistoryColumn<long>.None;
    private readonly HistoryColumn<long> _negativeItems = HistoryColumn<long>.None, _negativeCategories = HistoryColumn<long>.None;
    private readonly HistoryColumn<float> _historyLabels = HistoryColumn<float>.None;

    /// <summary>Creates an empty batch for an object initializer to fill.</summary>
    public BatchArrays()
    {
    }

    /// <summary>A batch whose history columns are packed; the caller's initializer sets every other member.</summary>
    // The history getters lay their arrays out from the packed columns, so they never return null.
#pragma warning disable CS8618
    [SetsRequiredMembers]
    internal BatchArrays(PackedHistories packed)
    {
        _historyItems = HistoryColumn<long>.OfPacked(packed.Items);
        _historyCategories = HistoryColumn<long>.OfPacked(packed.Categories);
        _negativeItems = HistoryColumn<long>.OfPacked(packed.NegativeItems);
        _negativeCategories = HistoryColumn<long>.OfPacked(packed.NegativeCategories);
        _historyLabels = HistoryColumn<float>.OfPacked(packed.HistoryLabels);
        UserIds = TargetItems = TargetCategories = [];
        Lengths = [];
    }
#pragma warning restore CS8618

    /// <summary>Number of rows B.</summary>
    public required int Size { get; init; }

    /// <summary>Padded history width T (the longest history in the batch, usually).</summary>
    public required int Width { get; init; }

    /// <summary>User ids, [B].</summary>
    public required long[] UserIds { get; init; }

    /// <summary>
    /// The key grouping each row's impressions per user for GAUC, [B] (<see cref="Data.Sample.Group"/>, or the
    /// user id where a sample has none); null groups by <see cref="UserIds"/>. The model never reads it.
    /// </summary>
    public long[]? GroupIds { get; init; }

    /// <summary>Target item ids, [B].</summary>
    public required long[] TargetItems { get; init; }

    /// <summary>Target category ids, [B].</summary>
    public required long[] TargetCategories { get; init; }

    /// <summary>History item ids, [B * T] row-major.</summary>
    public required long[] HistoryItems
    {
        get => _historyItems.Padded(Lengths, Width)!;
        init => _historyItems = HistoryColumn<long>.OfPadded(value);
    }

    /// <summary>History category ids, [B * T] row-major.</summary>
    public required long[] HistoryCategories
    {
        get => _historyCategories.Padded(Lengths, Width)!;
        init => _historyCategories = HistoryColumn<long>.OfPadded(value);
    }

    /// <summary>Valid history length of each row, [B], each in 0 .. T.</summary>
    public required int[] Lengths { get; init; }

    /// <summary>Click labels (0 or 1), [B]; null at inference.</summary>
    public float[]? Labels { get; init; }

    /// <summary>Sampled negative item ids for the next-behaviour auxiliary loss, [B * T]: slot t is the negative for the behaviour at t.</summary>
    public long[]? NegativeItems
    {
        get => _negativeItems.Padded(Lengths, Width);
        init => _negativeItems = HistoryColumn<long>.OfPadded(value);
    }

    /// <summary>Categories of <see cref="NegativeItems"/>, [B * T].</summary>
    public long[]? NegativeCategories
    {
        get => _negativeCategories.Padded(Lengths, Width);
        init => _negativeCategories = HistoryColumn<long>.OfPadded(value);
    }

    /// <summary>Per-position 0/1 labels for the labelled-history auxiliary loss, [B * T].</summary>
    public float[]? HistoryLabels
    {
        get => _historyLabels.Padded(Lengths, Width);
        init => _historyLabels = HistoryColumn<float>.OfPadded(value);
    }

    /// <summary>Number of extra categorical fields F.</summary>
    public int ExtraFieldCount { get; init; }

    /// <summary>Extra field ids, [B * F] row-major; null when F = 0.</summary>
    public long[]? ExtraFields { get; init; }

    /// <summary>The longest valid length in the batch.</summary>
    public int MaxLength => Lengths.Length == 0 ? 0 : Lengths.Max();

    /// <summary>
    /// Checks the structure: array sizes, lengths within 0 .. T, ids not negative at valid positions,
    /// labels 0 or 1. Vocabulary ranges are the model's check (<see cref="EnsureIdsInRange"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The first problem found, naming the field, the row and the value.</exception>
    public void Validate()
    {
        if (Size < 0)
        {
            throw new ArgumentException($"{nameof(Size)} = {Size}: must not be negative.", nameof(Size));
        }

        if (Width < 0)
        {
            throw new ArgumentException($"{nameof(Width)} = {Width}: must not be negative.", nameof(Width));
        }

        if (ExtraFieldCount < 0)
        {
            throw new ArgumentException($"{nameof(ExtraFieldCount)} = {ExtraFieldCount}: must not be negative.", nameof(ExtraFieldCount));
        }

        long cells = (long)Size * Width;
        RequireLength(nameof(UserIds), UserIds, Size);
        RequireLength(nameof(GroupIds), GroupIds, Size);
        RequireLength(nameof(TargetItems), TargetItems, Size);
        RequireLength(nameof(TargetCategories), TargetCategories, Size);
        RequireLength(nameof(Lengths), Lengths, Size);
        long valid = 0;
        for (int b = 0; b < Size; b++)
        {
            int length = Lengths[b];
            if (length < 0 || length > Width)
            {
                throw new ArgumentException(
                    $"{nameof(Lengths)}[{b}] = {length}: a length must be in 0 .. {Width} (the padded width).", nameof(Lengths));
            }

            valid += length;
        }

        var (items, categories, negativeItems, negativeCategories, historyLabels) = (_historyItems, _historyCategories, _negativeItems, _negativeCategories, _historyLabels);
        items.RequireLength(nameof(HistoryItems), cells, valid);
        categories.RequireLength(nameof(HistoryCategories), cells, valid);
        RequireLength(nameof(Labels), Labels, Size);
        negativeItems.RequireLength(nameof(NegativeItems), cells, valid);
        negativeCategories.RequireLength(nameof(NegativeCategories), cells, valid);
        historyLabels.RequireLength(nameof(HistoryLabels), cells, valid);
        if (negativeItems.HasValues != negativeCategories.HasValues)
        {
            throw new ArgumentException(
                $"{nameof(NegativeItems)} and {nameof(NegativeCategories)} go together: one is null and the other is not.", nameof(NegativeCategories));
        }

        if (ExtraFieldCount > 0 || ExtraFields is not null)
        {
            RequireLength(nameof(ExtraFields), ExtraFields, (long)Size * ExtraFieldCount);
        }

        int offset = 0;
        for (int b = 0; b < Size; b++)
        {
            RequireNonNegative(nameof(UserIds), b, -1, UserIds[b]);
            RequireNonNegative(nameof(TargetItems), b, -1, TargetItems[b]);
            RequireNonNegative(nameof(TargetCategories), b, -1, TargetCategories[b]);
            if (Labels is not null)
            {
                RequireLabel(nameof(Labels), b, -1, Labels[b]);
            }

            for (int t = 0; t < Lengths[b]; t++)
            {
                int padded = (b * Width) + t, packed = offset + t;
                RequireNonNegative(nameof(HistoryItems), b, t, items.At(padded, packed));
                RequireNonNegative(nameof(HistoryCategories), b, t, categories.At(padded, packed));
                if (negativeItems.HasValues)
                {
                    RequireNonNegative(nameof(NegativeItems), b, t, negativeItems.At(padded, packed));
                    RequireNonNegative(nameof(NegativeCategories), b, t, negativeCategories.At(padded, packed));
                }

                if (historyLabels.HasValues)
                {
                    RequireLabel(nameof(HistoryLabels), b, t, historyLabels.At(padded, packed));
                }
            }

            offset += Lengths[b];
            for (int f = 0; f < ExtraFieldCount; f++)
            {
                RequireNonNegative($"{nameof(ExtraFields)}[field {f}]", b, -1, ExtraFields![(b * ExtraFieldCount) + f]);
            }
        }
    }

    /// <summary>Checks every id at a valid position against its table size.</summary>
    /// <param name="sizes">The table sizes of the model that will read the batch.</param>
    /// <exception cref="ArgumentException">An id is at or beyond its table size; the message names the field, row, position and value.</exception>
    internal void EnsureIdsInRange(VocabularySizes sizes)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        if (ExtraFieldCount != sizes.ExtraFieldVocabularySizes.Count)
        {
            throw new ArgumentException(
                $"{nameof(ExtraFieldCount)} = {ExtraFieldCount}, but the model was built with {sizes.ExtraFieldVocabularySizes.Count} extra field(s).",
                nameof(ExtraFieldCount));
        }

        var (items, categories, negativeItems, negativeCategories) = (_historyItems, _historyCategories, _negativeItems, _negativeCategories);
        int offset = 0;
        for (int b = 0; b < Size; b++)
        {
            RequireBelow(nameof(UserIds), b, -1, UserIds[b], sizes.UserVocabularySize, nameof(sizes.UserVocabularySize));
            RequireBelow(nameof(TargetItems), b, -1, TargetItems[b], sizes.ItemVocabularySize, nameof(sizes.ItemVocabularySize));
            RequireBelow(nameof(TargetCategories), b, -1, TargetCategories[b], sizes.CategoryVocabularySize, nameof(sizes.CategoryVocabularySize));
            for (int t = 0; t < Lengths[b]; t++)
            {
                int padded = (b * Width) + t, packed = offset + t;
                RequireBelow(nameof(HistoryItems), b, t, items.At(padded, packed), sizes.ItemVocabularySize, nameof(sizes.ItemVocabularySize));
                RequireBelow(nameof(HistoryCategories), b, t, categories.At(padded, packed), sizes.CategoryVocabularySize, nameof(sizes.CategoryVocabularySize));
                if (negativeItems.HasValues)
                {
                    RequireBelow(nameof(NegativeItems), b, t, negativeItems.At(padded, packed), sizes.ItemVocabularySize, nameof(sizes.ItemVocabularySize));
                    RequireBelow(nameof(NegativeCategories), b, t, negativeCategories.At(padded, packed), sizes.CategoryVocabularySize, nameof(sizes.CategoryVocabularySize));
                }
            }

            offset += Lengths[b];
            for (int f = 0; f < ExtraFieldCount; f++)
            {
                RequireBelow($"{nameof(ExtraFields)}[field {f}]", b, -1, ExtraFields![(b * ExtraFieldCount) + f],
                    sizes.ExtraFieldVocabularySizes[f], $"{nameof(sizes.ExtraFieldVocabularySizes)}[{f}]");
            }
        }
    }

    /// <summary>History item ids at the valid positions, row after row ([sum of lengths]), without laying out the padded array.</summary>
    internal long[] ValidHistoryItems() => _historyItems.Valid(Lengths, Width)!;

    /// <summary>History category ids at the valid positions, row after row.</summary>
    internal long[] ValidHistoryCategories() => _historyCategories.Valid(Lengths, Width)!;

    /// <summary>Sampled negative items at the valid positions, row after row; null when the batch has none.</summary>
    internal long[]? ValidNegativeItems() => _negativeItems.Valid(Lengths, Width);

    /// <summary>Categories of the sampled negatives at the valid positions, row after row; null when the batch has none.</summary>
    internal long[]? ValidNegativeCategories() => _negativeCategories.Valid(Lengths, Width);

    /// <summary>Whether the batch has sampled negatives (items and categories), without laying out a padded array.</summary>
    internal bool HasNegatives => _negativeItems.HasValues && _negativeCategories.HasValues;

    /// <summary>Whether the batch has per-position history labels, without laying out a padded array.</summary>
    internal bool HasHistoryLabels => _historyLabels.HasValues;

    private static string Where(string field, int row, int position) =>
        position < 0 ? $"{field}[row {row}]" : $"{field}[row {row}, position {position}]";

    /// <summary>Throws when <paramref name="array"/> (if given) does not hold <paramref name="expected"/> elements; the message names the field and both counts.</summary>
    internal static void RequireLength<T>(string field, T[]? array, long expected)
    {
        if (array is not null && array.LongLength != expected)
        {
            throw new ArgumentException($"{field} has {array.LongLength} elements; expected {expected}.", field);
        }
    }

    private static void RequireLength<T>(string field, T[]? array, int expected) => RequireLength(field, array, (long)expected);

    /// <summary>Throws when an id is negative; the message names the field, the row and the position (-1: none).</summary>
    internal static void RequireNonNegative(string field, int row, int position, long id)
    {
        if (id < 0)
        {
            throw new ArgumentException($"{Where(field, row, position)} = {id}: ids must not be negative.", field);
        }
    }

    private static void RequireLabel(string field, int row, int position, float label)
    {
        if (label != 0f && label != 1f)
        {
            throw new ArgumentException($"{Where(field, row, position)} = {label}: labels must be 0 or 1.", field);
        }
    }

    /// <summary>Throws when an id is at or beyond its table size; the message names the field, row, position and the option to change.</summary>
    internal static void RequireBelow(string field, int row, int position, long id, long size, string option)
    {
        if (id >= size)
        {
            throw new ArgumentException(
                $"{Where(field, row, position)} = {id} is out of range: {option} = {size}, so ids must be below {size}.", field);
        }
    }
}
