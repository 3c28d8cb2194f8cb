using Dien.Data.Batching;
using Dien.Embeddings;
using Dien.Head;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Dien.Model;

/// <summary>
/// The paper's BaseModel (Embedding &amp; MLP): the history is sum-pooled, no sequence modelling.
/// Head input [e_a, sum e_t, extras], with the user and e_a * sum e_t when the options ask for them
/// (<see cref="CtrModelOptions.UseUserField"/>, <see cref="CtrModelOptions.HeadSumTerms"/>). Built from the same parts as <see cref="DienModel"/>.
/// </summary>
public sealed class SumPoolingModel : CtrModel
{
    [ComponentName(Name = "embedding")]
    private readonly BehaviourEmbedding _embedding;
    [ComponentName(Name = "head")]
    private readonly MlpHead _head;

    /// <summary>Builds the model; the options are validated once, here (recurrent and attention options are unused).</summary>
    /// <param name="options">The model options.</param>
    /// <exception cref="CtrModelOptionsException">The options are invalid; every problem is listed.</exception>
    public SumPoolingModel(CtrModelOptions options)
        : base("BaseModel", options)
    {
        _embedding = new BehaviourEmbedding(ModelOptions.ToEmbeddingOptions()) { UseFusedKernels = ModelOptions.UseFusedKernels };
        int behaviours = ModelOptions.HeadSumTerms ? 3 : 2;
        _head = MlpHeadFor(_embedding.UserSize + (behaviours * ModelOptions.BehaviourSize) + _embedding.ExtraSize);
        RegisterComponents();
    }

    /// <inheritdoc />
    protected override CtrOutput Score(BehaviourBatch batch)
    {
        using var scope = NewDisposeScope();
        var embedded = _embedding.Embed(batch, includeNegatives: false);
        return Finish(batch, ScoreAgainst(embedded), null, EmbeddingPenalty(_embedding, embedded, batch));
    }

    /// <inheritdoc />
    private protected override Tensor ScoreEncoded(CandidateBatch batch)
    {
        using var scope = NewDisposeScope();
        return ScoreAgainst(_embedding.Embed(batch)).MoveToOuterDisposeScope();
    }

    /// <summary>The head over each scored row, its history's sum computed once per history.</summary>
    /// <returns>Click logits, [B].</returns>
    private Tensor ScoreAgainst(EmbeddedBatch embedded)
    {
        // The sum is SumPoolingModel's interest: with the sum terms it is already there, beside e_a * sum.
        var input = ModelOptions.HeadSumTerms ? embedded.HeadInput(sumTerms: true) : embedded.HeadInput(sumTerms: false, embedded.Rows.Spread(embedded.HistorySum()));
        return _head.call(input);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _embedding.Dispose();
            _head.Dispose();
        }

        base.Dispose(disposing);
    }
}
