using Dien.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Dien.Embeddings;

/// <summary>
/// The embedding tables of DESIGN.md section 1: items, categories, the user and any extra categorical
/// fields. Id 0 is padding everywhere: its vector is zero and gets no gradient. A behaviour is
/// e = [item_emb(i) ; cat_emb(c)]; the history and the target share the tables.
/// </summary>
public sealed class BehaviourEmbedding : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly Embedding item;
    private readonly Embedding category;
    private readonly Embedding user;
    private readonly ModuleList<Embedding> extra_fields;

    /// <summary>Creates the tables from the vocabulary sizes and widths in <paramref name="options"/>.</summary>
    /// <param name="options">Validated model options.</param>
    public BehaviourEmbedding(DienOptions options)
        : base(nameof(BehaviourEmbedding))
    {
        ArgumentNullException.ThrowIfNull(options);
        item = nn.Embedding(options.ItemVocabularySize, options.ItemEmbeddingSize, padding_idx: 0, max_norm: options.ItemMaxNorm);
        category = nn.Embedding(options.CategoryVocabularySize, options.CategoryEmbeddingSize, padding_idx: 0);
        user = nn.Embedding(options.UserVocabularySize, options.UserEmbeddingSize, padding_idx: 0);
        extra_fields = nn.ModuleList(options.ExtraFieldVocabularySizes
            .Select(size => nn.Embedding(size, options.UserEmbeddingSize, padding_idx: 0)).ToArray());
        BehaviourSize = options.BehaviourSize;
        UserSize = options.UserEmbeddingSize;
        ExtraSize = options.UserEmbeddingSize * options.ExtraFieldVocabularySizes.Count;
        RegisterComponents();
    }

    /// <summary>Width E of a behaviour vector.</summary>
    public int BehaviourSize { get; }

    /// <summary>Width of the user vector.</summary>
    public int UserSize { get; }

    /// <summary>Width of all extra field vectors side by side.</summary>
    public int ExtraSize { get; }

    /// <summary>Behaviour vectors [item ; category] for ids of any shape.</summary>
    /// <param name="items">Item ids, int64 [...].</param>
    /// <param name="categories">Category ids, int64, the same shape.</param>
    /// <returns>[..., E].</returns>
    public override Tensor forward(Tensor items, Tensor categories)
        => torch.cat(new[] { item.call(items), category.call(categories) }, -1);

    /// <summary>User vectors.</summary>
    /// <param name="users">User ids, int64 [B].</param>
    /// <returns>[B, user width].</returns>
    public Tensor EmbedUser(Tensor users) => user.call(users);

    /// <summary>Extra field vectors side by side, or null when there are no extra fields.</summary>
    /// <param name="fields">Ids, int64 [B, F].</param>
    /// <returns>[B, F * width].</returns>
    public Tensor? EmbedExtraFields(Tensor? fields)
    {
        if (extra_fields.Count == 0 || fields is null)
        {
            return null;
        }

        var parts = new Tensor[extra_fields.Count];
        for (int f = 0; f < parts.Length; f++)
        {
            parts[f] = extra_fields[f].call(fields.select(1, f));
        }

        return torch.cat(parts, -1);
    }

    /// <summary>
    /// Everything a model reads from the tables for one batch. Ids at padded history positions are
    /// replaced by the padding id first, so whatever they held never reaches a result.
    /// </summary>
    /// <param name="batch">The batch.</param>
    /// <param name="withNegatives">Also embed the sampled negatives (for the next-behaviour auxiliary loss).</param>
    internal EmbeddedBatch Embed(DienBatch batch, bool withNegatives)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var padding = batch.Mask.logical_not();
        var history = forward(batch.HistoryItems.masked_fill(padding, 0), batch.HistoryCategories.masked_fill(padding, 0));
        var target = forward(batch.TargetItems, batch.TargetCategories);
        Tensor? negatives = null;
        if (withNegatives && batch.NegativeItems is not null && batch.NegativeCategories is not null)
        {
            negatives = forward(batch.NegativeItems.masked_fill(padding, 0), batch.NegativeCategories.masked_fill(padding, 0));
        }

        return new EmbeddedBatch(history, target, EmbedUser(batch.UserIds), EmbedExtraFields(batch.ExtraFields), negatives);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            item.Dispose();
            category.Dispose();
            user.Dispose();
            extra_fields.Dispose();
        }

        base.Dispose(disposing);
    }
}
