using Dien.Data.Batching;
using Dien.Kernels.Lookup;
using Dien.Kernels.Primitives;
using Dien.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Dien.Embeddings;

/// <summary>
/// The embedding tables (the paper's embedding layer): items, categories, the user and any extra categorical
/// fields. Id 0 is padding everywhere: its vector is zero and gets no gradient. A behaviour is
/// e = [item_emb(i) ; cat_emb(c)]; the history and the target share the tables.
/// </summary>
internal sealed class BehaviourEmbedding : nn.Module<Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "items")]
    private readonly Embedding _items;
    [ComponentName(Name = "categories")]
    private readonly Embedding _categories;
    [ComponentName(Name = "user")]
    private readonly Embedding? _user;
    [ComponentName(Name = "extras")]
    private readonly ModuleList<Embedding> _extras;
    private readonly bool _itemsHaveMaxNorm;

    private static readonly string[] BehaviourTables = ["item", "category"], UserTable = ["user"];

    /// <summary>Creates the tables from the vocabulary sizes, widths and initialisation in <paramref name="options"/>.</summary>
    /// <param name="options">The tables' sizes, widths and initialisation.</param>
    public BehaviourEmbedding(EmbeddingOptions options)
        : base(nameof(BehaviourEmbedding))
    {
        ArgumentNullException.ThrowIfNull(options);
        _items = Table(options.ItemVocabularySize, options.ItemEmbeddingSize, options, options.ItemMaxNorm);
        _categories = Table(options.CategoryVocabularySize, options.CategoryEmbeddingSize, options);
        _user = options.UseUserField ? Table(options.UserVocabularySize, options.UserEmbeddingSize, options) : null;
        _extras = nn.ModuleList(options.ExtraFieldVocabularySizes
            .Select(size => Table(size, options.UserEmbeddingSize, options)).ToArray());
        _itemsHaveMaxNorm = options.ItemMaxNorm is not null;
        BehaviourSize = options.BehaviourSize;
        UserSize = _user is null ? 0 : options.UserEmbeddingSize;
        ExtraSize = options.UserEmbeddingSize * options.ExtraFieldVocabularySizes.Count;
        RegisterComponents();
    }

    /// <summary>Width E of a behaviour vector.</summary>
    public int BehaviourSize { get; }

    /// <summary>Width of the user vector; 0 when the model does not use the user field.</summary>
    public int UserSize { get; }

    /// <summary>Width of all extra field vectors side by side.</summary>
    public int ExtraSize { get; }

    /// <summary>Behaviour vectors [item ; category] for ids of any shape.</summary>
    /// <param name="itemIds">Item ids, int64 [...].</param>
    /// <param name="categoryIds">Category ids, int64, the same shape.</param>
    /// <returns>[..., E].</returns>
    /// <exception cref="ArgumentException">The two id tensors differ in shape.</exception>
    public override Tensor forward(Tensor itemIds, Tensor categoryIds)
    {
        Guard.SameShape(categoryIds, itemIds);
        if (Fused(_itemsHaveMaxNorm))
        {
            var rows = FusedLookup.Rows(BehaviourTables, new[] { _items.weight!, _categories.weight! }, new[] { itemIds.reshape(-1), categoryIds.reshape(-1) });
            return rows.view([.. Sizes.Of(itemIds), BehaviourSize]);
        }

        return torch.cat(new[] { _items.call(itemIds), _categories.call(categoryIds) }, -1);
    }

    /// <summary>
    /// Whether training looks rows up with the fused CPU kernel (<see cref="FusedLookup"/>): the same values and
    /// gradients as the tables' own lookups, with a backward that is one loop over the rows instead of libtorch's
    /// tensor iterator per row. Not for the item table with a max-norm, whose lookup renormalises rows in place.
    /// </summary>
    public bool UseFusedKernels { get; set; } = true;

    /// <summary>User vectors, or null when the model does not use the user field (<see cref="EmbeddingOptions.UseUserField"/>).</summary>
    /// <param name="users">User ids, int64 [B].</param>
    /// <returns>[B, user width], or null.</returns>
    public Tensor? EmbedUser(Tensor users)
        => _user is null ? null
            : Fused(maxNorm: false) ? FusedLookup.Rows(UserTable, new[] { _user.weight! }, new[] { users }) : _user.call(users);

    /// <summary>Extra field vectors side by side, or null when there are no extra fields.</summary>
    /// <param name="fields">Ids, int64 [B, F].</param>
    /// <returns>[B, F * width].</returns>
    public Tensor? EmbedExtraFields(Tensor? fields)
    {
        if (_extras.Count == 0 || fields is null)
        {
            return null;
        }

        var ids = Enumerable.Range(0, _extras.Count).Select(f => fields.select(1, f)).ToArray();
        if (Fused(maxNorm: false))
        {
            return FusedLookup.Rows(ids.Select((_, f) => $"extra field {f}").ToArray(), _extras.Select(e => e.weight!).ToArray(), ids);
        }

        return torch.cat(ids.Select((column, f) => _extras[f].call(column)).ToArray(), -1);
    }

    /// <summary>Whether this lookup runs on the fused kernel: training on CPU in float (<see cref="TrainingRoute"/>), and no max-norm.</summary>
    private bool Fused(bool maxNorm) => UseFusedKernels && !maxNorm && TrainingRoute.Takes(_items.weight);

    /// <summary>
    /// Everything a model reads from the tables for one batch, packed: only the valid history positions (and their
    /// sampled negatives) are looked up, so whatever padded positions hold is never read, and padding costs neither a
    /// lookup nor a gradient row. <see cref="EmbeddedBatch.History"/> lays them out padded when a part needs that.
    /// </summary>
    /// <param name="batch">The batch.</param>
    /// <param name="includeNegatives">Also embed the sampled negatives (for the next-behaviour auxiliary loss).</param>
    internal EmbeddedBatch Embed(BehaviourBatch batch, bool includeNegatives)
    {
        ArgumentNullException.ThrowIfNull(batch);
        long size = batch.Size, valid = batch.ValidPositionIds.size(0);
        var (itemIds, categoryIds, negatives) = BehaviourIds(batch, includeNegatives);

        // One lookup per table for history, target and negatives together: with a max-norm the lookup
        // renormalises rows in place, which must not happen between two lookups of one forward pass.
        // One split, not three narrows: its backward writes the parts' gradients into one tensor, where each narrow's
        // would fill a zero tensor of the whole lookup and add them up.
        var all = forward(itemIds, categoryIds);
        var parts = all.split(negatives ? new[] { valid, size, valid } : new[] { valid, size });
        var history = parts[0];
        var target = parts[1];
        var negative = negatives ? parts[2] : null;
        var packed = new PackedHistory(history, negative, batch.ValidPositionIds, batch.ValidPositionRows, batch.Arrays.Lengths, batch.Width);
        return new EmbeddedBatch(packed, target, EmbedUser(batch.UserIds), EmbedExtraFields(batch.ExtraFields), itemIds, categoryIds);
    }

    /// <summary>
    /// What a model reads from the tables for a ranking call: each history (with its user and extra fields) once,
    /// [R, T, E], and each candidate as a target, [K, E]; the result spreads the histories to the candidates through
    /// <see cref="CandidateBatch.Index"/>. One lookup per table, as in <see cref="Embed(BehaviourBatch, bool)"/>.
    /// </summary>
    /// <param name="batch">The ranking call.</param>
    internal EmbeddedBatch Embed(CandidateBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var histories = batch.Histories;
        long size = histories.Size, width = histories.Width;
        var padding = histories.Mask.logical_not();
        var itemIds = torch.cat(new[] { histories.HistoryItems.masked_fill(padding, HeldScalars.Zero).reshape(-1), batch.CandidateItems }, 0);
        var categoryIds = torch.cat(new[] { histories.HistoryCategories.masked_fill(padding, HeldScalars.Zero).reshape(-1), batch.CandidateCategories }, 0);
        var all = forward(itemIds, categoryIds);
        var history = all.narrow(0, 0, size * width).reshape(size, width, BehaviourSize);
        var target = all.narrow(0, size * width, batch.Size);
        return new EmbeddedBatch(history, target, EmbedUser(histories.UserIds), EmbedExtraFields(histories.ExtraFields), itemIds, categoryIds)
        {
            Rows = batch.Index,
        };
    }

    /// <summary>
    /// The mini-batch-aware L2 penalty: the sum of ||w_j||^2 over the distinct rows j that a batch looked up in each
    /// table (padding row 0 is zero and adds nothing). Rows the batch does not use get no gradient.
    /// </summary>
    /// <param name="embedded">What <see cref="Embed(BehaviourBatch, bool)"/> returned for the batch (its looked-up item and category ids).</param>
    /// <param name="batch">The batch (its user and extra-field ids).</param>
    /// <returns>A scalar.</returns>
    internal Tensor SquaredNormOfUsedRows(EmbeddedBatch embedded, BehaviourBatch batch)
    {
        ArgumentNullException.ThrowIfNull(embedded);
        ArgumentNullException.ThrowIfNull(batch);
        var total = UsedRows(_items, embedded.ItemIds).Plus(UsedRows(_categories, embedded.CategoryIds));
        if (_user is not null)
        {
            total = total.Plus(UsedRows(_user, batch.UserIds));
        }

        if (batch.ExtraFields is not null)
        {
            for (int f = 0; f < _extras.Count; f++)
            {
                total = total.Plus(UsedRows(_extras[f], batch.ExtraFields.select(1, f)));
            }
        }

        return total;
    }

    /// <summary>
    /// The item and category ids a batch looks up, flat: the valid history positions row after row, the targets,
    /// then the negatives at the valid positions when asked for and present.
    /// </summary>
    private static (Tensor Items, Tensor Categories, bool Negatives) BehaviourIds(BehaviourBatch batch, bool includeNegatives)
    {
        bool negatives = includeNegatives && batch.Arrays.HasNegatives;
        var itemIds = new List<Tensor> { batch.ValidHistoryItems, batch.TargetItems };
        var categoryIds = new List<Tensor> { batch.ValidHistoryCategories, batch.TargetCategories };
        if (negatives)
        {
            itemIds.Add(batch.ValidNegativeItems!);
            categoryIds.Add(batch.ValidNegativeCategories!);
        }

        return (torch.cat(itemIds, 0), torch.cat(categoryIds, 0), negatives);
    }

    private static Tensor UsedRows(Embedding table, Tensor ids)
    {
        var (rows, _, _) = torch.unique(ids.reshape(-1));
        var used = table.weight!.index_select(0, rows);
        return (used * used).sum();
    }

    /// <summary>A table initialised as the options say, its padding row zero.</summary>
    private static Embedding Table(long rows, int width, EmbeddingOptions options, double? maxNorm = null)
    {
        var table = nn.Embedding(rows, width, padding_idx: 0, max_norm: maxNorm);
        using (torch.no_grad())
        {
            var weight = table.weight!;
            if (options.Init == EmbeddingInitialization.Uniform)
            {
                nn.init.uniform_(weight, -options.InitScale, options.InitScale);
            }
            else
            {
                nn.init.normal_(weight, 0, options.InitScale);
            }

            using var padding = weight[0];
            padding.zero_();
        }

        return table;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _items.Dispose();
            _categories.Dispose();
            _user?.Dispose();
            _extras.Dispose();
        }

        base.Dispose(disposing);
    }
}
