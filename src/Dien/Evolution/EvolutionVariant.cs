namespace Dien.Evolution;

/// <summary>How the interest-evolution layer combines attention with the GRU (the paper's interest evolving layer).</summary>
public enum EvolutionVariant
{
    /// <summary>AUGRU, paper form (default): the attention score scales the update gate, u~ = a * u.</summary>
    Augru,

    /// <summary>AUGRU as in the authors' released code: the attention scales the keep gate, k~ = (1 - a) * (1 - u).</summary>
    AugruAuthorsCode,

    /// <summary>AGRU: the attention score replaces the update gate, h' = (1 - a) * h'_{t-1} + a * h~.</summary>
    Agru,

    /// <summary>AIGRU: a plain GRU over the attention-scaled inputs a_t * h_t.</summary>
    Aigru,

    /// <summary>Ablation: a plain GRU over h_t; the final interest is the attention-weighted sum of its outputs.</summary>
    Gru,
}
