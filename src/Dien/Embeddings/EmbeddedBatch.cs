using Dien.Data.Batching;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Embeddings;

/// <summary>
/// The embedded tensors of one batch, as every model reads them. The history side (history, user, extras) has one
/// row per history R and the target one per scored row B; <see cref="Rows"/> says which history each row reads
/// (in a training batch R = B and each row reads its own).
/// </summary>
/// <remarks>
/// A training batch is embedded packed (<see cref="Packed"/>): only its valid history positions are looked up, so
/// padding costs neither a lookup nor a gradient row. Parts that read the padded [R, T, E] layout get it from
/// <see cref="History"/> and <see cref="Negatives"/>, built from the packed vectors on first use (zero at padding).
/// </remarks>
internal sealed class EmbeddedBatch
{
    private Tensor? _history, _negatives;

    /// <summary>A batch embedded in the padded layout (every position looked up, padding as id 0).</summary>
    /// <param name="history">Behaviours e_t, [R, T, E]; exactly zero at padded positions.</param>
    /// <param name="target">The target ad e_a, [B, E].</param>
    /// <param name="user">The user vector, [R, user width]; null when the model does not use the user field.</param>
    /// <param name="extras">Extra field vectors side by side, [R, F * width]; null without extra fields.</param>
    /// <param name="itemIds">Every item id the lookup read, flat.</param>
    /// <param name="categoryIds">Every category id the lookup read, in the same order.</param>
    public EmbeddedBatch(Tensor history, Tensor target, Tensor? user, Tensor? extras, Tensor itemIds, Tensor categoryIds)
        : this((PackedHistory?)null, target, user, extras, itemIds, categoryIds)
    {
        _history = history;
    }

    /// <summary>A batch embedded packed: the valid history positions (and their negatives) only.</summary>
    /// <param name="packed">The valid behaviours and negatives, row after row, and where they sit in the padded layout (null only from the padded constructor).</param>
    /// <param name="target">The target ad e_a, [B, E].</param>
    /// <param name="user">The user vector, [B, user width], or null.</param>
    /// <param name="extras">Extra field vectors side by side, [B, F * width], or null.</param>
    /// <param name="itemIds">Every item id the lookup read, flat (valid history, target, valid negatives).</param>
    /// <param name="categoryIds">Every category id the lookup read, in the same order.</param>
    public EmbeddedBatch(PackedHistory? packed, Tensor target, Tensor? user, Tensor? extras, Tensor itemIds, Tensor categoryIds)
    {
        Packed = packed;
        Target = target;
        User = user;
        Extras = extras;
        ItemIds = itemIds;
        CategoryIds = categoryIds;
    }

    /// <summary>Behaviours e_t, [R, T, E]; exactly zero at padded positions.</summary>
    public Tensor History => _history ??= Packed!.Pad(Packed.Behaviours);

    /// <summary>Sampled negative behaviours e'_t, [B, T, E], zero at padded positions; null unless asked for and present.</summary>
    public Tensor? Negatives => _negatives ??= Packed?.Negatives is { } negatives ? Packed.Pad(negatives) : null;

    /// <summary>The valid behaviours packed row after row, or null when the batch was embedded padded.</summary>
    public PackedHistory? Packed { get; }

    /// <summary>The target ad e_a, [B, E].</summary>
    public Tensor Target { get; }

    /// <summary>The user vector, [R, user width]; null when the model does not use the user field.</summary>
    public Tensor? User { get; }

    /// <summary>Extra field vectors side by side, [R, F * width]; null without extra fields.</summary>
    public Tensor? Extras { get; }

    /// <summary>Every item id the lookup read, flat.</summary>
    public Tensor ItemIds { get; }

    /// <summary>Every category id the lookup read, in the same order.</summary>
    public Tensor CategoryIds { get; }

    /// <summary>Which history each scored row reads.</summary>
    /// <value>The default value is <see cref="HistoryIndex.Identity"/>: each row its own.</value>
    public HistoryIndex Rows { get; init; } = HistoryIndex.Identity;

    /// <summary>Sum of the valid behaviours, [R, E]: from the packed vectors, or over the padded layout (padding vectors are zero).</summary>
    public Tensor HistorySum() => Packed is null ? History.sum(1) : Packed.SumRows(Packed.Behaviours);

    /// <summary>
    /// The head input shared by every model: [user, e_a, sum e_t, e_a * sum e_t, model-specific parts..., extras],
    /// where the user is left out when the model does not use it and the two sum terms when <paramref name="sumTerms"/> is false.
    /// The history-side parts are computed per history and spread to the rows; the result is [B, ...].
    /// </summary>
    /// <param name="sumTerms">Include [sum e_t ; e_a * sum e_t].</param>
    /// <param name="interests">What the model adds after the pooled history, one row per scored row (DIEN: h'_T; DIN: the attention pooling; BaseModel: sum e_t).</param>
    public Tensor HeadInput(bool sumTerms, params Tensor[] interests)
    {
        var parts = new List<Tensor>();
        if (User is not null)
        {
            parts.Add(Rows.Spread(User));
        }

        parts.Add(Target);
        if (sumTerms)
        {
            var sum = Rows.Spread(HistorySum());
            parts.Add(sum);
            parts.Add(Target * sum);
        }

        parts.AddRange(interests);
        if (Extras is not null)
        {
            parts.Add(Rows.Spread(Extras));
        }

        return cat(parts, 1);
    }
}
