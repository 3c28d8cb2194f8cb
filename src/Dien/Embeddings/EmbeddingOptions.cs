namespace Dien.Embeddings;

/// <summary>
/// The tables of a <see cref="BehaviourEmbedding"/>: their sizes, widths and initialisation. A model fills these
/// from its own options, which it has already validated; <see cref="BehaviourEmbedding"/> checks only that the
/// sizes are usable.
/// </summary>
internal sealed class EmbeddingOptions
{
    /// <summary>Rows of the item table (id 0 is padding).</summary>
    /// <value>No default; must be at least 2.</value>
    public long ItemVocabularySize { get; set; }

    /// <summary>Rows of the category table (id 0 is padding).</summary>
    /// <value>No default; must be at least 2.</value>
    public long CategoryVocabularySize { get; set; }

    /// <summary>Rows of the user table (id 0 is unknown); read only when <see cref="UseUserField"/> is true.</summary>
    /// <value>No default; must be at least 1.</value>
    public long UserVocabularySize { get; set; }

    /// <summary>Table sizes of the extra categorical fields, one per field.</summary>
    /// <value>The default value is empty.</value>
    public IReadOnlyList<long> ExtraFieldVocabularySizes { get; set; } = Array.Empty<long>();

    /// <summary>Width of an item embedding.</summary>
    /// <value>No default; must be positive.</value>
    public int ItemEmbeddingSize { get; set; }

    /// <summary>Width of a category embedding.</summary>
    /// <value>No default; must be positive.</value>
    public int CategoryEmbeddingSize { get; set; }

    /// <summary>Width of the user embedding and of each extra field's embedding.</summary>
    /// <value>No default; must be positive.</value>
    public int UserEmbeddingSize { get; set; }

    /// <summary>Optional max-norm of item rows (renormalised at lookup).</summary>
    /// <value>The default value is null (no limit).</value>
    public double? ItemMaxNorm { get; set; }

    /// <summary>How every table starts; the padding row stays zero.</summary>
    /// <value>The default value is <see cref="EmbeddingInitialization.Normal"/>.</value>
    public EmbeddingInitialization Init { get; set; } = EmbeddingInitialization.Normal;

    /// <summary>The standard deviation (normal) or bound (uniform) of <see cref="Init"/>.</summary>
    /// <value>No default; must be positive.</value>
    public double InitScale { get; set; }

    /// <summary>Whether the user id has a table.</summary>
    /// <value>The default value is false.</value>
    public bool UseUserField { get; set; }

    /// <summary>Width E of a behaviour: item plus category embedding.</summary>
    public int BehaviourSize => ItemEmbeddingSize + CategoryEmbeddingSize;
}
