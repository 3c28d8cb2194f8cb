namespace Dien.Embeddings;

/// <summary>
/// How the embedding tables start. Recommender code starts them near zero (DeepCTR: N(0, 1e-4) by default,
/// N(0, 0.01) in the reference runs; the DIEN authors' TensorFlow: Glorot-uniform, about +-0.02 for a
/// 12k-row table), not at the framework's N(0, 1): with Adam at 1e-3 a row moves about 1e-3 per step, so
/// rows that start at unit scale stay nearly random for several epochs.
/// </summary>
public enum EmbeddingInitialization
{
    /// <summary>Every weight drawn from N(0, scale^2): the scale is the standard deviation.</summary>
    Normal,

    /// <summary>Every weight drawn from U(-scale, scale).</summary>
    Uniform,
}
