namespace Dien.Model;

/// <summary>How the interest-evolution layer combines attention with the GRU (DESIGN.md section 5).</summary>
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

/// <summary>How the target ad scores each extractor state (DESIGN.md section 4).</summary>
public enum AttentionForm
{
    /// <summary>Paper eq. 8: score_t = h_t W e_a.</summary>
    Bilinear,

    /// <summary>The authors' code (DIN style): an MLP over [q, h_t, q - h_t, q * h_t], q a projection of e_a.</summary>
    Mlp,
}

/// <summary>Which auxiliary loss supervises the interest extractor (DESIGN.md section 3).</summary>
public enum AuxiliaryLossForm
{
    /// <summary>The paper's form: h_t must tell the next real behaviour from a sampled negative.</summary>
    NextBehaviour,

    /// <summary>The labelled-history form: BCE of sigmoid(h_t . e_t) against a 0/1 label per history position.</summary>
    LabelledHistory,
}

/// <summary>How the next-behaviour auxiliary loss scores a (state, behaviour) pair.</summary>
public enum AuxiliaryScorer
{
    /// <summary>An MLP on [h_t ; e] (the authors' code: 100 -> 50 -> 1, sigmoid hidden activations).</summary>
    Mlp,

    /// <summary>The inner product h_t . e; needs the hidden width to equal the behaviour width.</summary>
    InnerProduct,
}

/// <summary>The activation of the head's hidden layers.</summary>
public enum HeadActivation
{
    /// <summary>Parametric ReLU, one slope per unit.</summary>
    PRelu,

    /// <summary>Dice (DIN): a data-adaptive PReLU whose switch point follows the batch statistics.</summary>
    Dice,
}

/// <summary>How the head turns its last layer into a click probability.</summary>
public enum HeadOutput
{
    /// <summary>One logit and a sigmoid.</summary>
    Sigmoid,

    /// <summary>Two logits and a softmax (the authors' code); the click probability is the second class.</summary>
    Softmax,
}
