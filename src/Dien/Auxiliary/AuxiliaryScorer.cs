namespace Dien.Auxiliary;

/// <summary>How the next-behaviour auxiliary loss scores a (state, behaviour) pair.</summary>
public enum AuxiliaryScorer
{
    /// <summary>An MLP on [h_t ; e] (the authors' code: 100 -> 50 -> 1, sigmoid hidden activations).</summary>
    Mlp,

    /// <summary>The inner product h_t . e; needs the hidden width to equal the behaviour width.</summary>
    InnerProduct,
}
