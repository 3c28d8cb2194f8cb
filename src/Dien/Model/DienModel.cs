using Dien.Data.Batching;
using Dien.Attention;
using Dien.Auxiliary;
using Dien.Embeddings;
using Dien.Evolution;
using Dien.Extractor;
using Dien.Head;
using Dien.Kernels.NextBehaviour;
using Dien.Runtime;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Dien.Model;

/// <summary>
/// DIEN (Zhou et al., AAAI 2019): embedding, GRU interest extractor with an auxiliary loss, target
/// attention, interest evolution (AUGRU by default) and an MLP head. Loss = L_target + alpha * L_aux.
/// </summary>
/// <remarks>
/// State-dict keys are listed in <c>docs/state-dict.md</c>. The auxiliary loss is computed in training mode
/// for batches with labels (and needs the batch's sampled negatives, or its history labels, depending on
/// <see cref="CtrModelOptions.AuxiliaryLoss"/>); in evaluation mode, or with alpha = 0, the auxiliary path is
/// skipped entirely and <see cref="CtrOutput.AuxiliaryLoss"/> is null.
/// </remarks>
public sealed class DienModel : CtrModel
{
    [ComponentName(Name = "embedding")]
    private readonly BehaviourEmbedding _embedding;
    [ComponentName(Name = "extractor")]
    private readonly InterestExtractor _extractor;
    [ComponentName(Name = "attention")]
    private readonly nn.Module<Tensor, Tensor, Tensor, Tensor> _attention;
    [ComponentName(Name = "evolution")]
    private readonly InterestEvolution _evolution;
    [ComponentName(Name = "auxiliary")]
    private readonly nn.Module<Tensor, Tensor, Tensor, Tensor, Tensor>? _auxiliary;
    [ComponentName(Name = "head")]
    private readonly MlpHead _head;

    /// <summary>Builds the model; the options are validated once, here.</summary>
    /// <param name="options">The model options.</param>
    /// <exception cref="CtrModelOptionsException">The options are invalid; every problem is listed.</exception>
    public DienModel(CtrModelOptions options)
        : base(nameof(DienModel), options)
    {
        var o = ModelOptions;
        _embedding = new BehaviourEmbedding(o.ToEmbeddingOptions()) { UseFusedKernels = o.UseFusedKernels };
        _extractor = new InterestExtractor(o.BehaviourSize, o.HiddenSize, o.UseFusedKernels);
        _attention = AttentionFor(o.HiddenSize);
        _evolution = new InterestEvolution(o.HiddenSize, o.HiddenSize, o.Evolution, o.UseFusedKernels);
        if (o.Alpha > 0)
        {
            _auxiliary = o.AuxiliaryLoss == AuxiliaryLossForm.NextBehaviour
                ? new NextBehaviourAuxiliaryLoss(o.HiddenSize, o.BehaviourSize, o.AuxiliaryScorer, o.AuxiliaryHiddenSizes, o.UseFusedKernels)
                : new LabelledHistoryAuxiliaryLoss();
        }

        int headInput = _embedding.UserSize + ((o.HeadSumTerms ? 3 : 1) * o.BehaviourSize) + o.HiddenSize + _embedding.ExtraSize;
        _head = MlpHeadFor(headInput);
        RegisterComponents();
    }

    /// <inheritdoc />
    private protected override bool HasFusedTrainingStep => true;

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The batch lacks an input the auxiliary loss needs in training.</exception>
    protected override CtrOutput Score(BehaviourBatch batch)
    {
        bool withAuxiliary = _auxiliary is not null && training && batch.Labels is not null;
        bool nextBehaviour = ModelOptions.AuxiliaryLoss == AuxiliaryLossForm.NextBehaviour;
        if (withAuxiliary)
        {
            RequireAuxiliaryInputs(batch, nextBehaviour);
        }

        using var scope = NewDisposeScope();
        int[] lengths = batch.Arrays.Lengths;
        var embedded = _embedding.Embed(batch, includeNegatives: withAuxiliary && nextBehaviour);
        StepTimeline.Mark("embedding");
        Tensor logit, states;
        Tensor? paddedStates;
        if (embedded.Packed is { } packed && _extractor.ReadsPacked(packed.Behaviours) && _evolution.ReadsPacked(packed.Behaviours))
        {
            // Packed sequences from the lookup to the evolution: the extractor, the MLP attention, the evolution's
            // input projection and the auxiliary loss see the valid positions only.
            states = _extractor.ForwardPacked(packed.Behaviours, batch.Mask, lengths);
            paddedStates = null;
            StepTimeline.Mark("extractor");

            // The fused auxiliary loss depends on the states alone: its kernel runs on helper threads while this
            // thread scores the target, instead of both taking turns at splitting each part over every core.
            var auxiliary = withAuxiliary ? BeginAuxiliaryLoss(embedded, states, batch) : null;
            // Deferred, its node is built now: the backward, which runs the newest nodes first, then waits for the kernel
            // only after the target's nodes, and the kernel's helpers work through the forward's end and the backward's
            // start, where this thread runs libtorch on one core.
            try
            {
                var deferred = DefersAuxiliaryLoss && auxiliary is { Gradients: not null } ? auxiliary.FinishInBackward() : null;
                StepTimeline.Mark("auxiliary loss started");
                var weights = _attention is MlpAttention mlp && mlp.ReadsPacked(states)
                    ? mlp.ForwardPacked(states, embedded.Target, batch.Mask)
                    : _attention.call(paddedStates = packed.Pad(states), embedded.Target, batch.Mask);
                StepTimeline.Mark("attention");
                var interest = _evolution.EvolvePacked(states, packed.Positions, packed.RowOfPosition, weights, lengths);
                StepTimeline.Mark("evolution");
                logit = _head.call(embedded.HeadInput(ModelOptions.HeadSumTerms, interest));
                StepTimeline.Mark("head");
                if (deferred is not null)
                {
                    // The output owns the running kernel from here (CtrOutput.CompleteDeferred).
                    return Finish(batch, logit, deferred, EmbeddingPenalty(_embedding, embedded, batch), auxiliary!.Complete);
                }
            }
            catch
            {
                // The kernel reads and writes tensors the error would free (or that no output owns yet): wait for it first.
                WaitQuietly(auxiliary);
                throw;
            }

            if (auxiliary is not null)
            {
                var joined = auxiliary.Finish();
                StepTimeline.Mark("auxiliary loss joined");
                return Finish(batch, logit, joined, EmbeddingPenalty(_embedding, embedded, batch));
            }
        }
        else
        {
            states = paddedStates = _extractor.call(embedded.History, batch.Mask, lengths);
            logit = ScoreAgainst(embedded, states, batch.Mask, lengths);
        }

        Tensor? auxiliaryLoss = withAuxiliary ? AuxiliaryLoss(embedded, states, paddedStates, batch, nextBehaviour) : null;
        return Finish(batch, logit, auxiliaryLoss, EmbeddingPenalty(_embedding, embedded, batch));
    }

    /// <inheritdoc />
    private protected override Tensor ScoreEncoded(CandidateBatch batch)
    {
        using var scope = NewDisposeScope();
        var histories = batch.Histories;
        var embedded = _embedding.Embed(batch);
        var states = _extractor.call(embedded.History, histories.Mask, histories.Arrays.Lengths);
        return ScoreAgainst(embedded, states, histories.Mask, histories.Arrays.Lengths).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The part of the model that depends on the target, per scored row: target attention over the extractor states,
    /// interest evolution and the head. The history side (states, mask, lengths, the embedded history) has one row
    /// per history, which each scored row reads through <see cref="EmbeddedBatch.Rows"/>.
    /// </summary>
    /// <returns>Click logits, [B].</returns>
    private Tensor ScoreAgainst(EmbeddedBatch embedded, Tensor states, Tensor mask, int[] lengths)
    {
        var rows = embedded.Rows;
        var rowMask = rows.Spread(mask);
        var weights = SharedHistoryAttention.Weights(_attention, states, rows, embedded.Target, rowMask);
        var interest = _evolution.Evolve(states, rows, weights, rowMask, rows.Spread(lengths));
        return _head.call(embedded.HeadInput(ModelOptions.HeadSumTerms, interest));
    }

    /// <summary>
    /// Starts the fused next-behaviour loss on helper threads where it reads the packed batch; null where the loss is
    /// computed afterwards (<see cref="AuxiliaryLoss"/>).
    /// </summary>
    private FusedNextBehaviourLoss.Prepared? BeginAuxiliaryLoss(EmbeddedBatch embedded, Tensor states, BehaviourBatch batch)
        => _auxiliary is NextBehaviourAuxiliaryLoss next && embedded.Packed is { Negatives: { } negatives } packed && next.ReadsPacked(states)
            ? next.BeginPacked(states, packed.Behaviours, negatives, batch.Mask)
            : null;

    private static void WaitQuietly(FusedNextBehaviourLoss.Prepared? auxiliary)
    {
        try
        {
            auxiliary?.Complete();
        }
        catch (AggregateException)
        {
            // The scoring error propagates; the kernel's would only hide it.
        }
    }

    /// <summary>
    /// L_aux: from the packed behaviours (and <paramref name="states"/> as they come, packed or padded) where the fused
    /// kernel reads them, else on the padded layout.
    /// </summary>
    private Tensor AuxiliaryLoss(EmbeddedBatch embedded, Tensor states, Tensor? paddedStates, BehaviourBatch batch, bool nextBehaviour)
    {
        if (_auxiliary is NextBehaviourAuxiliaryLoss next && embedded.Packed is { Negatives: { } negatives } packed && next.ReadsPacked(states))
        {
            return next.ComputePacked(states, packed.Behaviours, negatives, batch.Mask);
        }

        // States come packed only with a packed batch.
        paddedStates ??= embedded.Packed!.Pad(states);
        return _auxiliary!.call(paddedStates, embedded.History, nextBehaviour ? embedded.Negatives! : batch.HistoryLabels!, batch.Mask);
    }

    private static void RequireAuxiliaryInputs(BehaviourBatch batch, bool nextBehaviour)
    {
        if (nextBehaviour && !batch.Arrays.HasNegatives)
        {
            throw new ArgumentException(
                $"The batch has no {nameof(BatchArrays.NegativeItems)}: the next-behaviour auxiliary loss (alpha > 0) needs a sampled negative per history position in training. " +
                $"Sample them in the data pipeline, set {nameof(CtrModelOptions.Alpha)} = 0, or use {nameof(AuxiliaryLossForm)}.{nameof(AuxiliaryLossForm.LabelledHistory)}.",
                nameof(BatchArrays.NegativeItems));
        }

        if (!nextBehaviour && !batch.Arrays.HasHistoryLabels)
        {
            throw new ArgumentException(
                $"The batch has no {nameof(BatchArrays.HistoryLabels)}: the labelled-history auxiliary loss (alpha > 0) needs a 0/1 label per history position in training.",
                nameof(BatchArrays.HistoryLabels));
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _embedding.Dispose();
            _extractor.Dispose();
            _attention.Dispose();
            _evolution.Dispose();
            _auxiliary?.Dispose();
            _head.Dispose();
        }

        base.Dispose(disposing);
    }
}
