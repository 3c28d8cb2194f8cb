using Dien.Data.Batching;
using Dien.Embeddings;
using Dien.Model;
using Dien.Tests.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static Dien.Tests.TestKit;
using static TorchSharp.torch;

namespace Dien.Tests.Embeddings;

[Collection("Sequential")]
public sealed class BehaviourEmbeddingTests
{
    private static double[] Values(Tensor t) => t.detach().to_type(ScalarType.Float64).reshape(-1).data<double>().ToArray();

    [Fact]
    public void HistoryAndTargetShareTablesPaddingIsZeroAndGetsNoGradient()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        var options = ModelTestKit.TinyOptions();
        using var embedding = new BehaviourEmbedding(options.ToEmbeddingOptions());
        var arrays = ModelTestKit.Arrays(new[] { 2, 0 }, 3, seed: 1, paddingId: 9);
        arrays.HistoryItems[1] = arrays.TargetItems[0];
        arrays.HistoryCategories[1] = arrays.TargetCategories[0];
        using var batch = new BehaviourBatch(arrays);
        var embedded = embedding.Embed(batch, includeNegatives: true);

        embedded.Target.shape.Should().Equal(2, 5);
        embedded.History.shape.Should().Equal(2, 3, 5);
        embedded.Negatives!.shape.Should().Equal(2, 3, 5);
        embedded.User!.shape.Should().Equal(2, 2);
        embedded.Extras!.shape.Should().Equal(2, 2);
        Values(embedded.History[0, 1]).Should().Equal(Values(embedded.Target[0]), "history and target use the same tables");
        Values(embedded.History[0, 2]).Should().OnlyContain(v => v == 0, "padded position (id 9 there) is ignored");
        Values(embedded.History[1]).Should().OnlyContain(v => v == 0);
        Values(embedded.Negatives![1]).Should().OnlyContain(v => v == 0);
        embedded.Packed!.Behaviours.shape.Should().Equal(new long[] { 2, 5 }, "only the two valid positions are looked up");
        Values(embedded.HistorySum()).Should().Equal(Values(embedded.History.sum(1)), "the packed rows' sum is the padded sum");

        (embedded.History.sum() + embedded.Target.sum() + embedded.Negatives!.sum()).backward();
        var items = embedding.named_parameters().Single(p => p.name == "items.weight").parameter;
        Values(items.grad![0]).Should().OnlyContain(v => v == 0, "the padding row gets no gradient");
        Values(items[0]).Should().OnlyContain(v => v == 0, "the padding row is zero");
        Values(items.grad!).Should().Contain(v => v != 0);
    }

    [Fact]
    public void ItemMaxNormLimitsTheLookedUpRows()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var options = ModelTestKit.TinyOptions();
        options.ItemEmbeddingSize = 8;
        options.ItemMaxNorm = 0.5;
        using var embedding = new BehaviourEmbedding(options.ToEmbeddingOptions());
        var items = tensor(new long[] { 1, 2, 3, 4 });
        var vectors = embedding.call(items, tensor(new long[] { 1, 1, 2, 2 })).narrow(1, 0, 8);
        Values(vectors.norm(1)).Should().OnlyContain(n => n <= 0.5 + 1e-5);
        Values(vectors.norm(1)).Should().Contain(n => n > 0.49, "N(0, 1) rows of width 8 exceed the limit and are renormalised to it");
    }

    [Fact]
    public void MismatchedIdShapesAreRejected()
    {
        using var embedding = new BehaviourEmbedding(ModelTestKit.TinyOptions().ToEmbeddingOptions());
        var act = () => embedding.call(zeros(2, 3, ScalarType.Int64), zeros(2, 4, ScalarType.Int64));
        act.Should().Throw<ArgumentException>().Where(e => e.ParamName == "categoryIds");
    }
}
