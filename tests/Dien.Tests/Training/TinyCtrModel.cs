using Dien.Data.Batching;
using Dien.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Dien.Tests.Training;

/// <summary>
/// A small honest CTR model for the training tests: target item + category embeddings and the masked mean
/// of the history's item embeddings, a linear layer to a logit, BCE; an auxiliary loss (alpha times the
/// mean squared history embedding) exercises L_target + alpha * L_aux.
/// </summary>
internal sealed class TinyCtrModel : CtrModel
{
    private readonly TorchSharp.Modules.Embedding items;
    private readonly TorchSharp.Modules.Embedding categories;
    private readonly Linear output;

    public TinyCtrModel(CtrModelOptions options)
        : base(nameof(TinyCtrModel), options)
    {
        items = nn.Embedding(options.ItemVocabularySize, options.ItemEmbeddingSize);
        categories = nn.Embedding(options.CategoryVocabularySize, options.CategoryEmbeddingSize);
        output = nn.Linear((2 * options.ItemEmbeddingSize) + options.CategoryEmbeddingSize, 1);
        RegisterComponents();
    }

    public static CtrModelOptions SmallOptions() => new()
    {
        ItemVocabularySize = 40,
        CategoryVocabularySize = 6,
        UserVocabularySize = 30,
        ItemEmbeddingSize = 4,
        CategoryEmbeddingSize = 4,
        UserEmbeddingSize = 4,
        Alpha = 0.1,
    };

    protected override CtrOutput Score(BehaviourBatch batch)
    {
        using var scope = torch.NewDisposeScope();
        var target = items.call(batch.TargetItems);
        var category = categories.call(batch.TargetCategories);
        var mask = batch.Mask.unsqueeze(-1).to(torch.float32);
        var history = items.call(batch.HistoryItems) * mask;
        var mean = history.sum(1) / mask.sum(1).clamp_min(1);
        // The dot product lets the model match the target against the history (a linear layer alone cannot).
        var logit = output.call(torch.cat(new[] { target, category, mean }, 1)).squeeze(-1) + (target * mean).sum(1);
        var probability = torch.sigmoid(logit);
        Tensor? targetLoss = null, auxiliary = null, loss = null;
        if (batch.Labels is not null)
        {
            targetLoss = nn.functional.binary_cross_entropy_with_logits(logit, batch.Labels);
            auxiliary = history.pow(2).sum() / mask.sum().clamp_min(1);
            loss = targetLoss + (ModelOptions.Alpha * auxiliary);
        }

        return new CtrOutput(
            logit.MoveToOuterDisposeScope(),
            probability.MoveToOuterDisposeScope(),
            targetLoss?.MoveToOuterDisposeScope(),
            auxiliary?.MoveToOuterDisposeScope(),
            loss?.MoveToOuterDisposeScope());
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            items.Dispose();
            categories.Dispose();
            output.Dispose();
        }

        base.Dispose(disposing);
    }
}
