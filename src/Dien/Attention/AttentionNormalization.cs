namespace Dien.Attention;

/// <summary>How the attention turns the scores of a row's valid positions into weights.</summary>
public enum AttentionNormalization
{
    /// <summary>
    /// A softmax over the valid positions (paper eq. 8 and the authors' code): the weights sum to 1, so each is
    /// about 1/L for a row of L behaviours until the attention learns to peak.
    /// </summary>
    Softmax,

    /// <summary>
    /// sigmoid(score_t) at each valid position on its own, in (0, 1): a weight does not shrink with the length of
    /// the history, the way the DIN paper keeps the intensity of an interest by dropping the softmax.
    /// </summary>
    Sigmoid,
}
