namespace Dien.Attention;

/// <summary>How the target ad scores each extractor state (the paper's interest evolving layer, eq. 8, or the authors' code).</summary>
public enum AttentionForm
{
    /// <summary>Paper eq. 8: score_t = h_t W e_a.</summary>
    Bilinear,

    /// <summary>The authors' code (DIN style): an MLP over [q, h_t, q - h_t, q * h_t], q a projection of e_a.</summary>
    Mlp,
}
