using Dien.Data.Batching;
using static TorchSharp.torch;

namespace Dien.Embeddings;

/// <summary>
/// The embedded tensors of one batch, as every model reads them. The history side (history, user, extras) has one
/// row per history R and the target one per scored row B; <see cref="Rows"/> says which history each row reads
/// (in a training batch R = B and each row reads its own).
/// </summary>
/// <param name="History">Behaviours e_t, [R, T, E]; exactly zero at padded positions.</param>
/// <param name="Target">The target ad e_a, [B, E].</param>
/// <param name="User">The user vector, [R, user width]; null when the model does not use the user field.</param>
/// <param name="Extras">Extra field vectors side by side, [R, F * width]; null without extra fields.</param>
/// <param name="Negatives">Sampled negative behaviours e'_t, [B, T, E]; null unless asked for and present.</param>
/// <param name="ItemIds">Every item id the lookup read, flat (history with padding as 0, target, negatives).</param>
/// <param name="CategoryIds">Every category id the lookup read, in the same order.</param>
internal sealed record EmbeddedBatch(Tensor History, Tensor Target, Tensor? User, Tensor? Extras, Tensor? Negatives, Tensor ItemIds, Tensor CategoryIds)
{
    /// <summary>Which history each scored row reads.</summary>
    /// <value>The default value is <see cref="HistoryIndex.Identity"/>: each row its own.</value>
    public HistoryIndex Rows { get; init; } = HistoryIndex.Identity;

    /// <summary>Sum of the valid behaviours, [R, E] (padding vectors are zero, so a plain sum).</summary>
    public Tensor HistorySum() => History.sum(1);

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
