using Dien.Attention;
using Dien.Data.Batching;
using Dien.Embeddings;
using Dien.Head;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Dien.Model;

/// <summary>
/// DIN (Zhou et al., KDD 2018) as the DIEN paper compares it: attention of the target ad over the behaviour
/// embeddings themselves (no GRU), pooled into sum_t a_t e_t. Head input [e_a, sum a_t e_t, extras], with the
/// user and [sum e_t, e_a * sum e_t] when the options ask for them (<see cref="CtrModelOptions.UseUserField"/>,
/// <see cref="CtrModelOptions.HeadSumTerms"/>). Built from the same parts as <see cref="DienModel"/>.
/// </summary>
public sealed class DinModel : CtrModel
{
    [ComponentName(Name = "embedding")]
    private readonly BehaviourEmbedding _embedding;
    [ComponentName(Name = "attention")]
    private readonly nn.Module<Tensor, Tensor, Tensor, Tensor> _attention;
    [ComponentName(Name = "head")]
    private readonly MlpHead _head;

    /// <summary>Builds the model; the options are validated once, here (recurrent options are unused).</summary>
    /// <param name="options">The model options.</param>
    /// <exception cref="CtrModelOptionsException">The options are invalid; every problem is listed.</exception>
    public DinModel(CtrModelOptions options)
        : base(nameof(DinModel), options)
    {
        var o = ModelOptions;
        _embedding = new BehaviourEmbedding(o.ToEmbeddingOptions()) { UseFusedKernels = o.UseFusedKernels };
        _attention = AttentionFor(o.BehaviourSize);
        int behaviours = o.HeadSumTerms ? 4 : 2;
        _head = MlpHeadFor(_embedding.UserSize + (behaviours * o.BehaviourSize) + _embedding.ExtraSize);
        RegisterComponents();
    }

    /// <inheritdoc />
    private protected override bool HasFusedTrainingStep => ModelOptions.Attention != AttentionForm.Bilinear;

    /// <inheritdoc />
    protected override CtrOutput Score(BehaviourBatch batch)
    {
        using var scope = NewDisposeScope();
        var embedded = _embedding.Embed(batch, includeNegatives: false);
        return Finish(batch, ScoreAgainst(embedded, batch.Mask), null, EmbeddingPenalty(_embedding, embedded, batch));
    }

    /// <inheritdoc />
    private protected override Tensor ScoreEncoded(CandidateBatch batch)
    {
        using var scope = NewDisposeScope();
        return ScoreAgainst(_embedding.Embed(batch), batch.Histories.Mask).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The part that depends on the target, per scored row: attention pooling of the history and the head. The
    /// embedded history and the mask have one row per history, which each row reads through <see cref="EmbeddedBatch.Rows"/>.
    /// </summary>
    /// <returns>Click logits, [B].</returns>
    private Tensor ScoreAgainst(EmbeddedBatch embedded, Tensor mask)
    {
        var rows = embedded.Rows;
        var rowMask = rows.Spread(mask);
        var weights = SharedHistoryAttention.Weights(_attention, embedded.History, rows, embedded.Target, rowMask);
        var pooled = (weights.unsqueeze(-1) * rows.Spread(embedded.History)).sum(1);
        return _head.call(embedded.HeadInput(ModelOptions.HeadSumTerms, pooled));
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _embedding.Dispose();
            _attention.Dispose();
            _head.Dispose();
        }

        base.Dispose(disposing);
    }
}
