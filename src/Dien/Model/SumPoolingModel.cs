using Dien.Data.Batching;
using Dien.Embeddings;
using Dien.Head;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Model;

/// <summary>
/// The paper's BaseModel (Embedding &amp; MLP): the history is sum-pooled, no sequence modelling.
/// Head input [e_a, sum e_t, extras], with the user and e_a * sum e_t when the options ask for them
/// (<see cref="CtrModelOptions.UseUserField"/>, <see cref="CtrModelOptions.HeadSumTerms"/>). Built from the same parts as <see cref="DienModel"/>.
/// </summary>
public sealed class SumPoolingModel : CtrModel
{
    private readonly BehaviourEmbedding embedding;
    private readonly MlpHead head;

    /// <summary>Builds the model; the options are validated once, here (recurrent and attention options are unused).</summary>
    /// <param name="options">The model options.</param>
    /// <exception cref="CtrModelOptionsException">The options are invalid; every problem is listed.</exception>
    public SumPoolingModel(CtrModelOptions options)
        : base("BaseModel", options)
    {
        embedding = new BehaviourEmbedding(ModelOptions.ToEmbeddingOptions());
        int behaviours = ModelOptions.HeadSumTerms ? 3 : 2;
        head = MlpHeadFor(embedding.UserSize + (behaviours * ModelOptions.BehaviourSize) + embedding.ExtraSize);
        RegisterComponents();
    }

    /// <inheritdoc />
    protected override CtrOutput Score(BehaviourBatch batch)
    {
        using var scope = NewDisposeScope();
        var embedded = embedding.Embed(batch, includeNegatives: false);
        return Finish(batch, ScoreAgainst(embedded), null, EmbeddingPenalty(embedding, embedded, batch));
    }

    /// <inheritdoc />
    private protected override Tensor ScoreEncoded(CandidateBatch batch)
    {
        using var scope = NewDisposeScope();
        return ScoreAgainst(embedding.Embed(batch)).MoveToOuterDisposeScope();
    }

    /// <summary>The head over each scored row, its history's sum computed once per history.</summary>
    /// <returns>Click logits, [B].</returns>
    private Tensor ScoreAgainst(EmbeddedBatch embedded)
    {
        // The sum is SumPoolingModel's interest: with the sum terms it is already there, beside e_a * sum.
        var input = ModelOptions.HeadSumTerms ? embedded.HeadInput(sumTerms: true) : embedded.HeadInput(sumTerms: false, embedded.Rows.Spread(embedded.HistorySum()));
        return head.call(input);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            embedding.Dispose();
            head.Dispose();
        }

        base.Dispose(disposing);
    }
}
