using Dien.Data.Batching;
using Dien.Embeddings;
using Dien.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Model;

/// <summary>The options that decide how well a model learns: initialisation, the user field, the head's inputs, the embedding penalty.</summary>
[Collection("Sequential")]
public sealed class LearningDefaultsTests
{
    private static double[] Values(Tensor t) => t.detach().to_type(ScalarType.Float64).reshape(-1).data<double>().ToArray();

    private static TorchSharp.Modules.Parameter Table(nn.Module module, string name) => module.named_parameters().Single(p => p.name == name).parameter;

    [Fact]
    public void DefaultsStartTablesNearZeroWithSumTermsWithoutUserField()
    {
        var options = new CtrModelOptions();
        options.EmbeddingInit.Should().Be(EmbeddingInitialization.Normal);
        options.EmbeddingInitScale.Should().Be(0.01);
        options.UseUserField.Should().BeFalse();
        options.HeadSumTerms.Should().BeTrue();
        options.HeadBatchNorm.Should().BeTrue();
    }

    [Theory]
    [InlineData(EmbeddingInitialization.Normal, 0.01)]
    [InlineData(EmbeddingInitialization.Normal, 1.0)]
    [InlineData(EmbeddingInitialization.Uniform, 0.05)]
    public void TablesFollowTheInitialisationAndKeepAZeroPaddingRow(EmbeddingInitialization init, double scale)
    {
        manual_seed(11);
        var options = new CtrModelOptions
        {
            ItemVocabularySize = 4001, CategoryVocabularySize = 3, UserVocabularySize = 2,
            UseUserField = true, EmbeddingInit = init, EmbeddingInitScale = scale,
        };
        using var embedding = new BehaviourEmbedding(options.ToEmbeddingOptions());
        var items = Table(embedding, "items.weight");
        Values(items[0]).Should().OnlyContain(v => v == 0, "row 0 is padding");
        var rows = Values(items.narrow(0, 1, 4000));
        double mean = rows.Average(), std = Math.Sqrt(rows.Select(v => (v - mean) * (v - mean)).Average());
        Math.Abs(mean).Should().BeLessThan(scale * 0.02);
        if (init == EmbeddingInitialization.Normal)
        {
            std.Should().BeApproximately(scale, scale * 0.02, "72,000 draws of N(0, scale^2)");
        }
        else
        {
            rows.Should().OnlyContain(v => Math.Abs(v) <= scale);
            std.Should().BeApproximately(scale / Math.Sqrt(3), scale * 0.02, "U(-s, s) has standard deviation s / sqrt(3)");
        }

        Values(Table(embedding, "user.weight")[0]).Should().OnlyContain(v => v == 0);
    }

    [Theory]
    [MemberData(nameof(ModelTestKit.Kinds), MemberType = typeof(ModelTestKit))]
    public void WithoutTheUserFieldTheModelHasNoUserTableAndIgnoresUserIds(string kind)
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var options = ModelTestKit.TinyOptions();
        options.UseUserField = false;
        using var model = ModelKindsFor(kind, options);
        model.eval();
        model.state_dict().Keys.Should().NotContain(k => k.Contains("user", StringComparison.Ordinal));
        var arrays = ModelTestKit.Arrays([3, 2, 1], 3, seed: 4);
        using var a = new BehaviourBatch(arrays);
        var others = ModelTestKit.Arrays([3, 2, 1], 3, seed: 4);
        for (int row = 0; row < others.Size; row++)
        {
            others.UserIds[row] = (arrays.UserIds[row] % (ModelTestKit.Users - 1)) + 1;
        }

        others.UserIds.Should().NotEqual(arrays.UserIds);
        others.TargetItems.Should().Equal(arrays.TargetItems);
        using var b = new BehaviourBatch(others);
        using var pa = model.call(a);
        using var pb = model.call(b);
        Values(pa.Logit).Should().Equal(Values(pb.Logit));

        options.UseUserField = true;
        using var withUser = ModelKindsFor(kind, options);
        withUser.state_dict().Keys.Should().Contain("embedding.user.weight");
    }

    [Theory]
    [InlineData("BaseModel", false, 2)]
    [InlineData("BaseModel", true, 3)]
    [InlineData(nameof(DinModel), false, 2)]
    [InlineData(nameof(DinModel), true, 4)]
    [InlineData(nameof(DienModel), false, 1)]
    [InlineData(nameof(DienModel), true, 3)]
    public void HeadSumTermsDecideTheHeadInputWidth(string kind, bool sumTerms, int behaviours)
    {
        var options = ModelTestKit.TinyOptions();
        options.HeadSumTerms = sumTerms;
        options.UseUserField = false;
        options.ExtraFieldVocabularySizes = new List<long>();
        using var model = ModelKindsFor(kind, options);
        int recurrent = kind == nameof(DienModel) ? options.HiddenSize : 0;
        var first = Table(model, "head.layers.0.weight");
        first.shape[1].Should().Be((behaviours * options.BehaviourSize) + recurrent);
    }

    [Theory]
    [MemberData(nameof(ModelTestKit.Kinds), MemberType = typeof(ModelTestKit))]
    public void TheEmbeddingPenaltyIsTheSquaredNormOfTheRowsTheBatchUsesOnly(string kind)
    {
        using var scope = NewDisposeScope();
        manual_seed(8);
        var options = ModelTestKit.TinyOptions();
        options.HeadBatchNorm = false;
        options.ItemVocabularySize = 40; // the batch draws items below ModelTestKit.Items: rows 12..39 are never used
        using var plain = ModelKindsFor(kind, options);
        options.EmbeddingL2 = 0.25;
        using var penalised = ModelKindsFor(kind, options);
        penalised.load_state_dict(plain.state_dict());
        // Padded slots hold id 9: they are not looked up, so their rows must not be penalised.
        var arrays = ModelTestKit.Arrays([3, 1, 2, 0], 3, seed: 2, paddingId: 9);
        using var batch = new BehaviourBatch(arrays);

        using var expected = plain.call(batch);
        using var actual = penalised.call(batch);
        double bySum = 0;
        var used = new HashSet<(string, long)>();
        void Use(string table, long id)
        {
            if (id != 0 && used.Add((table, id)))
            {
                bySum += Values(Table(plain, $"embedding.{table}")[id]).Sum(v => v * v);
            }
        }

        bool negatives = kind == nameof(DienModel);
        for (int row = 0; row < arrays.Size; row++)
        {
            Use("items.weight", arrays.TargetItems[row]);
            Use("categories.weight", arrays.TargetCategories[row]);
            Use("user.weight", arrays.UserIds[row]);
            Use("extras.0.weight", arrays.ExtraFields![row]);
            for (int t = 0; t < arrays.Lengths[row]; t++)
            {
                int i = (row * arrays.Width) + t;
                Use("items.weight", arrays.HistoryItems[i]);
                Use("categories.weight", arrays.HistoryCategories[i]);
                if (negatives)
                {
                    Use("items.weight", arrays.NegativeItems![i]);
                    Use("categories.weight", arrays.NegativeCategories![i]);
                }
            }
        }

        double difference = actual.Loss!.item<float>() - expected.Loss!.item<float>();
        difference.Should().BeApproximately(0.25 * bySum, 1e-4 * Math.Max(1, bySum));
        actual.TargetLoss!.item<float>().Should().Be(expected.TargetLoss!.item<float>(), "the penalty is not part of the target loss");

        // Gradient: rows the batch does not use get none (a penalty on the whole table would reach them).
        actual.Loss!.backward();
        var grad = Table(penalised, "embedding.items.weight").grad!;
        Values(grad.narrow(0, ModelTestKit.Items, 40 - ModelTestKit.Items)).Should().OnlyContain(v => v == 0);

        penalised.eval();
        using var evaluated = penalised.call(batch);
        plain.eval();
        using var reference = plain.call(batch);
        evaluated.Loss!.item<float>().Should().Be(reference.Loss!.item<float>(), "no penalty outside training");
    }

    [Fact]
    public void NegativeOrNonFiniteScalesAreRejectedByName()
    {
        var options = ModelTestKit.TinyOptions();
        options.EmbeddingInitScale = 0;
        options.EmbeddingL2 = double.NaN;
        var problems = options.Validate();
        problems.Should().Contain(p => p.StartsWith("EmbeddingInitScale = 0", StringComparison.Ordinal));
        problems.Should().Contain(p => p.StartsWith("EmbeddingL2 = NaN", StringComparison.Ordinal));
    }

    private static CtrModel ModelKindsFor(string kind, CtrModelOptions options) => kind switch
    {
        "BaseModel" => new SumPoolingModel(options),
        nameof(DinModel) => new DinModel(options),
        _ => new DienModel(options),
    };
}
