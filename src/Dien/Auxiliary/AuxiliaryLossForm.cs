namespace Dien.Auxiliary;

/// <summary>Which auxiliary loss supervises the interest extractor (the paper's interest extractor layer).</summary>
public enum AuxiliaryLossForm
{
    /// <summary>The paper's form: h_t must tell the next real behaviour from a sampled negative.</summary>
    NextBehaviour,

    /// <summary>The labelled-history form: BCE of sigmoid(h_t . e_t) against a 0/1 label per history position.</summary>
    LabelledHistory,
}
