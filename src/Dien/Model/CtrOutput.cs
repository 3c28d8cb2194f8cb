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

    /// <summary>
    /// Waits for an auxiliary loss the forward left running into the backward (<c>CtrModel.DefersAuxiliaryLoss</c>) and
    /// writes its value into <see cref="AuxiliaryLoss"/> and <see cref="Loss"/>; does nothing for any other output or
    /// when already done. Call after the backward (which waits for the same loss) and before reading either value.
    /// </summary>
    /// <exception cref="AggregateException">The auxiliary loss's kernel threw.</exception>
    internal void CompleteDeferred()
    {
        var deferred = Deferred;
        Deferred = null;
        deferred?.Invoke();
    }

    /// <summary>Writes a deferred auxiliary loss's value into this output (<see cref="CompleteDeferred"/>); null when none.</summary>
    internal Action? Deferred { get; set; }

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            // The kernel of a deferred loss may still read and write memory the step frees after this.
            CompleteDeferred();
        }
        catch (AggregateException)
        {
            // Disposing on an error path: the error that got here propagates, the kernel's would only hide it.
        }

        Logit.Dispose();
        Probability.Dispose();
        TargetLoss?.Dispose();
        AuxiliaryLoss?.Dispose();
        Loss?.Dispose();
    }
}
