using Dien.Embeddings;
using Dien.Head;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Model;

/// <summary>
/// The paper's BaseModel (Embedding &amp; MLP): the history is sum-pooled, no sequence modelling.
/// Head input [user, e_a, sum e_t, e_a * sum e_t, extras]. Built from the same parts as <see cref="DienModel"/>.
/// </summary>
public sealed class BaseModel : CtrModel
{
    private readonly BehaviourEmbedding embedding;
    private readonly MlpHead head;

    /// <summary>Builds the model; the options are validated once, here (recurrent and attention options are unused).</summary>
    /// <param name="options">The model options.</param>
    /// <exception cref="DienOptionsException">The options are invalid; every problem is listed.</exception>
    public BaseModel(DienOptions options)
        : base(nameof(BaseModel), options)
    {
        embedding = new BehaviourEmbedding(ModelOptions);
        head = MlpHeadFor(embedding.UserSize + (3 * ModelOptions.BehaviourSize) + embedding.ExtraSize);
        RegisterComponents();
    }

    /// <summary>Scores a batch.</summary>
    /// <param name="batch">The batch.</param>
    /// <returns>Click logits, probabilities and, with labels, the target loss (the loss is the target loss).</returns>
    /// <exception cref="ArgumentException">An id is out of range.</exception>
    public override DienOutput forward(DienBatch batch)
    {
        CheckBatch(batch);
        using var scope = NewDisposeScope();
        var embedded = embedding.Embed(batch, includeNegatives: false);
        return Finish(batch, head.call(embedded.HeadInput()), null);
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
