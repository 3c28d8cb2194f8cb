using static TorchSharp.torch;

namespace Dien.Model;

/// <summary>
/// What a model returns for a batch. Owns its tensors: dispose it, or let the enclosing dispose scope
/// take them.
/// </summary>
public sealed class CtrOutput : IDisposable
{
    /// <summary>Creates an output.</summary>
    /// <param name="logit">Click logit, float [B]: sigmoid(logit) is the click probability (for a 2-way softmax head, logit_1 - logit_0).</param>
    /// <param name="probability">Click probability, float [B].</param>
    /// <param name="targetLoss">Mean binary cross-entropy against the labels, a scalar; null without labels.</param>
    /// <param name="auxiliaryLoss">The auxiliary loss L_aux, a scalar; null when alpha is 0, the model has none, or the batch lacks its inputs.</param>
    /// <param name="loss">L_target + alpha * L_aux (+ the embedding penalty in training, when <c>CtrModelOptions.EmbeddingL2</c> &gt; 0), a scalar; null without labels.</param>
    public CtrOutput(Tensor logit, Tensor probability, Tensor? targetLoss, Tensor? auxiliaryLoss, Tensor? loss)
    {
        Logit = logit;
        Probability = probability;
        TargetLoss = targetLoss;
        AuxiliaryLoss = auxiliaryLoss;
        Loss = loss;
    }

    /// <summary>Click logit, float [B].</summary>
    public Tensor Logit { get; }

    /// <summary>Click probability, float [B].</summary>
    public Tensor Probability { get; }

    /// <summary>Mean binary cross-entropy of the click prediction, scalar; null without labels.</summary>
    public Tensor? TargetLoss { get; }

    /// <summary>The auxiliary loss, scalar; null when it is switched off or not computed.</summary>
    public Tensor? AuxiliaryLoss { get; }

    /// <summary>
    /// The training objective L_target + alpha * L_aux, plus in training mode <c>CtrModelOptions.EmbeddingL2</c> times the
    /// squared norms of the embedding rows the batch uses; scalar; null without labels.
    /// </summary>
    public Tensor? Loss { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        Logit.Dispose();
        Probability.Dispose();
        TargetLoss?.Dispose();
        AuxiliaryLoss?.Dispose();
        Loss?.Dispose();
    }
}
