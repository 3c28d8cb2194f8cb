using Dien.Attention;
using Dien.Data.Batching;
using Dien.Head;
using Dien.Kernels.Primitives;
using Dien.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Model;

/// <summary>
/// A click-through-rate model over behaviour sequences: <c>DienModel</c> and the BaseModel and
/// DIN baselines it is compared with. Trainers, checkpoints and predictors work with this type.
/// </summary>
public abstract class CtrModel : nn.Module<BehaviourBatch, CtrOutput>
{
    // Held for the model's life: an implicit scalar may be freed by its finalizer during the native call (Runtime/HeldScalars).
    private readonly Scalar _alpha;
    private readonly Scalar _embeddingL2;
    private readonly VocabularySizes _vocabularies;

    /// <summary>Validates the options and keeps a private copy of them.</summary>
    /// <param name="name">The module name.</param>
    /// <param name="options">The model's options.</param>
    /// <exception cref="CtrModelOptionsException">The options are invalid; every problem is listed.</exception>
    protected CtrModel(string name, CtrModelOptions options)
        : base(name)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.EnsureValid();
        ModelOptions = options.Clone();
        _alpha = ModelOptions.Alpha.ToScalar();
        _embeddingL2 = ModelOptions.EmbeddingL2.ToScalar();
        _vocabularies = ModelOptions.ToVocabularySizes();
    }

    /// <summary>A copy of the options the model was built with (changing it changes nothing).</summary>
    public CtrModelOptions Options => ModelOptions.Clone();

    /// <summary>The options the model was built with, for derived models to read (never changed).</summary>
    protected CtrModelOptions ModelOptions { get; }

    /// <summary>
    /// Whether this model's training step does its heavy work in the fused CPU kernels (its parameters on the CPU in
    /// float32 or float64, <see cref="CtrModelOptions.UseFusedKernels"/> on and a model with such a step), so that
    /// libtorch's own operations in the step are small and the trainer runs them on one thread
    /// (<see cref="Kernels.Primitives.KernelWorkers.KernelsOnly"/>).
    /// </summary>
    internal bool TrainsOnFusedKernels
        => ModelOptions.UseFusedKernels && HasFusedTrainingStep
           && parameters().FirstOrDefault() is { } p && p.device_type == DeviceType.CPU
           && (p.dtype == ScalarType.Float32 || p.dtype == ScalarType.Float64);

    /// <summary>
    /// Set by the trainer around its steps: a training forward may then leave a fused auxiliary loss running into the
    /// backward, which waits for it where it needs the loss's gradients. The output's auxiliary loss and loss read
    /// their values only after <see cref="CtrOutput.CompleteDeferred"/>, which the trainer calls after the backward.
    /// </summary>
    internal bool DefersAuxiliaryLoss { get; set; }

    /// <summary>Whether the model's step runs its recurrences or its attention in fused kernels when they are on.</summary>
    private protected virtual bool HasFusedTrainingStep => false;

    /// <summary>The prediction head the options describe, for an input of <paramref name="inputSize"/> features.</summary>
    /// <param name="inputSize">Width of the concatenated head input.</param>
    private protected Dien.Head.MlpHead MlpHeadFor(int inputSize) => new(
        inputSize, ModelOptions.HeadHiddenSizes, ModelOptions.HeadActivation, ModelOptions.HeadBatchNorm, ModelOptions.HeadDropout, ModelOptions.HeadOutput)
    {
        UseFusedKernels = ModelOptions.UseFusedKernels,
    };

    /// <summary>The target attention the options ask for, over keys of width <paramref name="keySize"/> (DIEN: H; DIN: E).</summary>
    private protected nn.Module<Tensor, Tensor, Tensor, Tensor> AttentionFor(int keySize)
    {
        var o = ModelOptions;
        return o.Attention == AttentionForm.Bilinear
            ? new BilinearAttention(keySize, o.BehaviourSize) { Normalization = o.AttentionNormalization }
            : new MlpAttention(keySize, o.BehaviourSize, o.AttentionHiddenSizes, o.UseFusedKernels) { Normalization = o.AttentionNormalization };
    }

    /// <summary>
    /// Scores a batch: checks what the batch cannot know about this model, once (every id against this model's
    /// tables, the extra fields it was built with, the device, and two rows in training when the head uses batch
    /// statistics), then runs <see cref="Score"/>. The batch's own structure was checked when it was built.
    /// </summary>
    /// <param name="batch">The batch; see <see cref="BehaviourBatch"/> for the tensor shapes.</param>
    /// <returns>Click logits and probabilities [B], and the losses when the batch has labels.</returns>
    /// <exception cref="ArgumentException">An id is out of range or the batch does not fit the model; the message names the field, the row and the value.</exception>
    public sealed override CtrOutput forward(BehaviourBatch batch)
    {
        CheckBatch(batch);
        using var narrowing = SmallInference(batch.Size, batch.Device, KernelWorkers.SmallInferenceRows);
        return Score(batch);
    }

    /// <summary>Scores a batch that <see cref="forward"/> has checked against this model.</summary>
    /// <param name="batch">The batch.</param>
    /// <returns>Click logits and probabilities [B], and the losses when the batch has labels (build it with <see cref="Finish(BehaviourBatch, Tensor, Tensor?, Tensor?)"/>).</returns>
    protected abstract CtrOutput Score(BehaviourBatch batch);

    /// <summary>
    /// Click probabilities of a ranking call, [K]: each candidate scored against its request's history. Models that
    /// split their work (<see cref="ScoreEncoded"/>) embed and encode each history once and run only the
    /// candidate-dependent part per candidate; others, or with <paramref name="encodeHistoryOnce"/> false, score the
    /// equivalent batch of K rows that each carry their history (<see cref="CandidateArrays.ToRows"/>). Both give the
    /// same scores to float rounding.
    /// </summary>
    /// <param name="batch">The ranking call, on the model's device.</param>
    /// <param name="encodeHistoryOnce">False: score the row-per-candidate batch even when the model could split (the reference path).</param>
    /// <returns>One probability per candidate, in the caller's dispose scope.</returns>
    /// <exception cref="ArgumentException">An id is out of range or the call does not fit the model.</exception>
    internal Tensor ScoreCandidates(CandidateBatch batch, bool encodeHistoryOnce = true)
    {
        ArgumentNullException.ThrowIfNull(batch);
        batch.Arrays.EnsureIdsInRange(_vocabularies);
        CheckDevice(batch.Device, nameof(batch));
        using var narrowing = SmallInference(batch.Arrays.Size, batch.Device, KernelWorkers.SmallRankingRows);
        using var scope = NewDisposeScope();
        var logit = encodeHistoryOnce ? ScoreEncoded(batch) : null;
        if (logit is null)
        {
            using var rows = new BehaviourBatch(batch.Arrays.ToRows(), batch.Device);
            using var output = forward(rows);
            return output.Probability.alias().MoveToOuterDisposeScope();
        }

        return torch.sigmoid(logit).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The click logits of a ranking call [K] from each history encoded once, or null when the model has no such split
    /// (then <see cref="ScoreCandidates"/> scores one row per candidate). The call's ids have been checked.
    /// </summary>
    /// <param name="batch">The ranking call.</param>
    private protected virtual Tensor? ScoreEncoded(CandidateBatch batch) => null;

    /// <summary>
    /// A scoring call of at most <paramref name="limit"/> rows on CPU runs libtorch on one thread
    /// (<see cref="KernelWorkers.SmallInference"/>); training steps and other devices are left as they are.
    /// </summary>
    private KernelWorkers.LibTorchNarrowing SmallInference(long rows, Device device, int limit)
        => !training && device.type == DeviceType.CPU ? KernelWorkers.SmallInference(rows, limit) : default;

    private void CheckBatch(BehaviourBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        batch.Arrays.EnsureIdsInRange(_vocabularies);
        bool batchStatistics = ModelOptions.HeadBatchNorm || ModelOptions.HeadActivation == HeadActivation.Dice;
        if (training && batchStatistics && batch.Size < 2)
        {
            throw new ArgumentException(
                $"A training batch needs at least 2 rows when the head uses BatchNorm or Dice (batch statistics); got Size = {batch.Size}. Call eval() to score single rows.",
                nameof(batch));
        }

        CheckDevice(batch.Device, nameof(batch));
    }

    private void CheckDevice(Device device, string name)
    {
        var parameter = parameters().FirstOrDefault();
        if (parameter is not null && (parameter.device_type != device.type || parameter.device_index != device.index))
        {
            throw new ArgumentException($"The batch is on {device} but the model is on {parameter.device}: build the batch on the model's device.", name);
        }
    }

    /// <summary>
    /// The embedding penalty of a training step, <c>EmbeddingL2 * sum ||w_j||^2</c> over the rows the batch uses;
    /// null in evaluation mode, for unlabelled batches and when <see cref="CtrModelOptions.EmbeddingL2"/> is 0.
    /// </summary>
    /// <param name="embedding">The model's tables.</param>
    /// <param name="embedded">What the tables returned for this batch (the ids it looked up).</param>
    /// <param name="batch">The batch.</param>
    private protected Tensor? EmbeddingPenalty(Dien.Embeddings.BehaviourEmbedding embedding, Dien.Embeddings.EmbeddedBatch embedded, BehaviourBatch batch)
    {
        ArgumentNullException.ThrowIfNull(embedding);
        if (!training || batch.Labels is null || ModelOptions.EmbeddingL2 == 0)
        {
            return null;
        }

        return embedding.SquaredNormOfUsedRows(embedded, batch).mul(_embeddingL2);
    }

    /// <summary>
    /// Builds the output from the click logit: probability = sigmoid(logit), the target loss (mean binary
    /// cross-entropy from the logit, stable for any value) when the batch has labels, and
    /// loss = L_target + alpha * L_aux + the embedding penalty. Moves every tensor out of the caller's dispose scope.
    /// </summary>
    /// <param name="batch">The batch (for its labels).</param>
    /// <param name="logit">Click logits, [B].</param>
    /// <param name="auxiliaryLoss">L_aux, or null when it is not computed.</param>
    /// <param name="penalty">The embedding penalty (already scaled), or null.</param>
    protected CtrOutput Finish(BehaviourBatch batch, Tensor logit, Tensor? auxiliaryLoss, Tensor? penalty = null)
        => Finish(batch, logit, auxiliaryLoss, penalty, deferred: null);

    /// <summary>
    /// <see cref="Finish(BehaviourBatch, Tensor, Tensor?, Tensor?)"/> for an auxiliary loss whose value is not known yet
    /// (<see cref="DefersAuxiliaryLoss"/>): <paramref name="deferred"/> waits for it and returns it, and the output's
    /// <see cref="CtrOutput.CompleteDeferred"/> writes it into the auxiliary loss and the loss.
    /// </summary>
    private protected CtrOutput Finish(BehaviourBatch batch, Tensor logit, Tensor? auxiliaryLoss, Tensor? penalty, Func<double>? deferred)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(logit);
        var probability = torch.sigmoid(logit);
        Tensor? target = null;
        Tensor? loss = null;
        if (batch.Labels is not null)
        {
            target = nn.functional.binary_cross_entropy_with_logits(logit, batch.Labels.to_type(logit.dtype));
            loss = auxiliaryLoss is null ? target.alias() : target.Plus(auxiliaryLoss.mul(_alpha));
            if (penalty is not null)
            {
                loss = loss.Plus(penalty);
            }
        }

        var output = new CtrOutput(
            logit.MoveToOuterDisposeScope(),
            probability.MoveToOuterDisposeScope(),
            target?.MoveToOuterDisposeScope(),
            auxiliaryLoss?.MoveToOuterDisposeScope(),
            loss?.MoveToOuterDisposeScope());
        if (deferred is not null)
        {
            // The penalty's tensor belongs to the caller's scope: keep its value (float64 holds float32 exactly).
            double? penaltyValue = penalty?.to_type(ScalarType.Float64).item<double>();
            output.Deferred = () => WriteDeferred(output, deferred(), penaltyValue);
        }

        return output;
    }

    /// <summary>Writes a deferred auxiliary loss into the output, and the loss again as the forward would have summed it.</summary>
    private void WriteDeferred(CtrOutput output, double auxiliaryLoss, double? penalty)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var value = auxiliaryLoss.ToScalar();
        output.AuxiliaryLoss!.fill_(value);
        if (output.Loss is { } loss && output.TargetLoss is { } target)
        {
            var sum = target.Plus(output.AuxiliaryLoss.mul(_alpha));
            loss.copy_(penalty is { } p ? sum.Plus(torch.tensor(p, dtype: sum.dtype)) : sum);
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _alpha.Dispose();
            _embeddingL2.Dispose();
        }

        base.Dispose(disposing);
    }
}
