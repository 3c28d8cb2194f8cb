using Dien.Attention;
using Dien.Auxiliary;
using Dien.Checkpoints;
using Dien.Data.Batching;
using Dien.Evolution;
using Dien.Head;
using Dien.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static Dien.Tests.Model.ModelTestKit;
using static Dien.Tests.TestKit;
using static TorchSharp.torch;

namespace Dien.Tests.Model;

[Collection("Sequential")]
public sealed class DienModelTests
{
    public static TheoryData<string> Models => ModelTestKit.Kinds;

    [Theory]
    [MemberData(nameof(Models))]
    public void OutputsHaveTheBatchShapeAndTheLossIsTargetPlusAlphaTimesAuxiliary(string name)
    {
        manual_seed(1);
        using var model = ModelKinds.Create(name, TinyOptions());
        model.train();
        using var batch = new BehaviourBatch(Arrays(new[] { 3, 1, 0, 2 }, 3, seed: 5));
        using var output = model.call(batch);
        output.Logit.shape.Should().Equal(4);
        output.Probability.shape.Should().Equal(4);
        output.Probability.allclose(output.Logit.sigmoid()).Should().BeTrue();
        double target = output.TargetLoss!.item<float>();
        double loss = output.Loss!.item<float>();
        if (name == nameof(DienModel))
        {
            double auxiliary = output.AuxiliaryLoss!.item<float>();
            auxiliary.Should().BeGreaterThan(0);
            loss.Should().BeApproximately(target + auxiliary, 1e-5);
        }
        else
        {
            output.AuxiliaryLoss.Should().BeNull();
            loss.Should().BeApproximately(target, 1e-6);
        }

        // Mean BCE from the logits, in scalar math.
        var logits = Values(output.Logit);
        var labels = batch.Arrays.Labels!;
        double expected = logits.Select((l, i) => -(labels[i] * Math.Log(1 / (1 + Math.Exp(-l))) + (1 - labels[i]) * Math.Log(1 - (1 / (1 + Math.Exp(-l)))))).Average();
        target.Should().BeApproximately(expected, 1e-5);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void PaddingChangesNoOutputLossOrGradient(string name)
    {
        manual_seed(2);
        var options = TinyOptions();
        options.ItemMaxNorm = 1.0;
        using var model = ModelKinds.Create(name, options);
        CheckPaddingInvariance(model, Arrays(new[] { 3, 1, 0, 2 }, 3, seed: 9));
    }

    [Theory]
    [InlineData(AttentionForm.Bilinear, EvolutionVariant.Gru)]
    [InlineData(AttentionForm.Mlp, EvolutionVariant.AugruAuthorsCode)]
    public void PaddingChangesNothingWithTheLabelledHistoryLossEither(AttentionForm attention, EvolutionVariant variant)
    {
        manual_seed(12);
        var options = TinyOptions(attention, variant);
        options.AuxiliaryLoss = AuxiliaryLossForm.LabelledHistory;
        options.HiddenSize = options.BehaviourSize;
        options.HeadActivation = HeadActivation.Dice;
        using var model = new DienModel(options);
        CheckPaddingInvariance(model, Arrays(new[] { 3, 1, 0, 2 }, 3, seed: 10, historyLabels: true));
    }

    public static TheoryData<string, AuxiliaryLossForm> PackedCases => new()
    {
        { nameof(DienModel), AuxiliaryLossForm.NextBehaviour },
        { nameof(DienModel), AuxiliaryLossForm.LabelledHistory },
        { "BaseModel", AuxiliaryLossForm.NextBehaviour },
        { nameof(DinModel), AuxiliaryLossForm.NextBehaviour },
    };

    [Theory]
    [MemberData(nameof(PackedCases))]
    public void ABatchersPackedHistoriesTrainAsTheirPaddedLayoutDoes(string name, AuxiliaryLossForm auxiliary)
    {
        manual_seed(4);
        var options = TinyOptions();
        bool labelled = auxiliary == AuxiliaryLossForm.LabelledHistory;
        if (labelled)
        {
            options.AuxiliaryLoss = auxiliary;
            options.HiddenSize = options.BehaviourSize;
        }

        using var model = ModelKinds.Create(name, options);
        model.train();
        var source = Arrays(new[] { 3, 1, 0, 2, 3, 1 }, 3, seed: 11, historyLabels: true);
        var samples = Enumerable.Range(0, source.Size).Select(row => new Dien.Data.Sample
        {
            Label = source.Labels![row],
            User = source.UserIds[row],
            TargetItem = source.TargetItems[row],
            TargetCategory = source.TargetCategories[row],
            HistoryItems = source.HistoryItems.Skip(row * 3).Take(source.Lengths[row]).ToArray(),
            HistoryCategories = source.HistoryCategories.Skip(row * 3).Take(source.Lengths[row]).ToArray(),
            HistoryLabels = source.HistoryLabels!.Skip(row * 3).Take(source.Lengths[row]).ToArray(),
            ExtraFields = [source.ExtraFields![row]],
        }).ToList();
        var sampler = new NegativeSampler(Enumerable.Range(1, (int)Items - 1).Select(i => ((long)i, (long)((i % (Categories - 1)) + 1))), NegativeSampling.Uniform);
        BatchArrays Batch() => new Batcher(new BatcherOptions { BatchSize = samples.Count, NegativeSampler = sampler, IncludeHistoryLabels = labelled })
            .Batches(samples).Single();

        // The same batch twice: one trains from its packed columns, the other is first read as padded arrays by a caller.
        var packed = Run(model, Batch());
        var read = Batch();
        var padded = Run(model, new BatchArrays
        {
            Size = read.Size, Width = read.Width, UserIds = read.UserIds, GroupIds = read.GroupIds, TargetItems = read.TargetItems, TargetCategories = read.TargetCategories,
            HistoryItems = read.HistoryItems, HistoryCategories = read.HistoryCategories, Lengths = read.Lengths, Labels = read.Labels,
            NegativeItems = read.NegativeItems, NegativeCategories = read.NegativeCategories, HistoryLabels = read.HistoryLabels,
            ExtraFieldCount = read.ExtraFieldCount, ExtraFields = read.ExtraFields,
        });

        padded.Gradients.Values.Should().Contain(g => g.Any(v => v != 0), "the check must compare real gradients");
        packed.Logit.Should().Equal(padded.Logit);
        packed.Loss.Should().Be(padded.Loss);
        foreach (var (key, gradient) in padded.Gradients)
        {
            packed.Gradients[key].Should().Equal(gradient, "gradient of {0}", key);
        }
    }

    private static void CheckPaddingInvariance(CtrModel model, BatchArrays narrow)
    {
        model.train();
        var reference = Run(model, narrow);
        reference.Gradients.Values.Should().Contain(g => g.Any(v => v != 0), "the check must compare real gradients");

        // Wider padding with garbage ids at padded positions: in range, out of range, and negative.
        foreach (var (width, paddingId) in new[] { (3, 7L), (6, 0L), (6, 9L), (5, 999L), (4, -7L) })
        {
            var widened = Run(model, Widen(narrow, width, paddingId));
            widened.Logit.Should().Equal(reference.Logit, (a, b) => Math.Abs(a - b) < 1e-6, "width {0}, padding id {1}", width, paddingId);
            widened.Loss.Should().BeApproximately(reference.Loss, 1e-6);
            foreach (var (key, gradient) in reference.Gradients)
            {
                widened.Gradients[key].Should().Equal(gradient, (a, b) => Math.Abs(a - b) < 1e-6, "gradient of {0}", key);
            }
        }
    }

    public static TheoryData<AttentionForm, EvolutionVariant> GradientCases()
    {
        var cases = new TheoryData<AttentionForm, EvolutionVariant>();
        foreach (var attention in Enum.GetValues<AttentionForm>())
        {
            cases.Add(attention, EvolutionVariant.Augru);
        }

        foreach (var variant in Enum.GetValues<EvolutionVariant>().Where(v => v != EvolutionVariant.Augru))
        {
            cases.Add(AttentionForm.Bilinear, variant);
        }

        return cases;
    }

    [Theory]
    [MemberData(nameof(GradientCases))]
    public void GradientsMatchFiniteDifferencesInFloat64(AttentionForm attention, EvolutionVariant variant)
    {
        manual_seed(3);
        using var model = new DienModel(TinyOptions(attention, variant));
        CheckDirectionalDerivatives(model, expectAuxiliary: true);
    }

    [Theory]
    [InlineData(EvolutionVariant.Augru)]
    [InlineData(EvolutionVariant.Aigru)]
    [InlineData(EvolutionVariant.Gru)]
    public void GradientsMatchFiniteDifferencesWhereMostPositionsArePadding(EvolutionVariant variant)
    {
        // 6 of 16 positions valid: the input projections gather the valid positions (ValidPositionProjection).
        manual_seed(3);
        using var model = new DienModel(TinyOptions(AttentionForm.Mlp, variant));
        CheckDirectionalDerivatives(model, expectAuxiliary: true, lengths: [4, 1, 0, 1]);
    }

    [Theory]
    [InlineData(nameof(DinModel), AttentionForm.Mlp)]
    [InlineData(nameof(DinModel), AttentionForm.Bilinear)]
    [InlineData("BaseModel", AttentionForm.Mlp)]
    public void BaselineGradientsMatchFiniteDifferencesInFloat64(string name, AttentionForm attention)
    {
        manual_seed(4);
        var options = TinyOptions(attention);
        options.HeadActivation = HeadActivation.Dice;
        using var model = ModelKinds.Create(name, options);
        CheckDirectionalDerivatives(model, expectAuxiliary: false);
    }

    [Fact]
    public void LabelledHistoryGradientsMatchFiniteDifferencesInFloat64()
    {
        manual_seed(5);
        var options = TinyOptions();
        options.AuxiliaryLoss = AuxiliaryLossForm.LabelledHistory;
        options.HiddenSize = options.BehaviourSize;
        options.HeadOutput = HeadOutput.Softmax;
        using var model = new DienModel(options);
        CheckDirectionalDerivatives(model, expectAuxiliary: true, historyLabels: true);
    }

    private static void CheckDirectionalDerivatives(CtrModel model, bool expectAuxiliary, bool historyLabels = false, int[]? lengths = null)
    {
        model.to(ScalarType.Float64);
        model.train();
        var arrays = Arrays(lengths ?? [3, 2, 0, 1], 4, seed: 11, historyLabels: historyLabels);
        using var batch = new BehaviourBatch(arrays);

        double Loss()
        {
            using var scope = NewDisposeScope();
            using var output = model.call(batch);
            return output.Loss!.item<double>();
        }

        model.zero_grad();
        using (var output = model.call(batch))
        {
            (output.AuxiliaryLoss is not null).Should().Be(expectAuxiliary);
            output.Loss!.backward();
        }

        // One directional derivative per parameter tensor: a random direction v (seeded), compared with
        // (L(p + eps v) - L(p - eps v)) / (2 eps) = grad . v. Embedding row 0 is the padding vector (lookups read
        // it, but padding_idx gives it no gradient by design), so the direction is zero there.
        const double eps = 1e-6;
        var random = new Random(17);
        int checkedTensors = 0;
        foreach (var (key, parameter) in model.named_parameters())
        {
            var analytic = parameter.grad is null ? new double[parameter.numel()] : Values(parameter.grad);
            var direction = Enumerable.Range(0, analytic.Length).Select(_ => random.NextDouble() - 0.5).ToArray();
            if (key.StartsWith("embedding.", StringComparison.Ordinal))
            {
                Array.Clear(direction, 0, (int)parameter.shape[1]);
            }

            double expected = analytic.Zip(direction, (g, v) => g * v).Sum();
            var original = parameter.detach().clone();
            var step = tensor(direction, ScalarType.Float64).reshape(parameter.shape) * eps;
            double plus;
            double minus;
            using (no_grad())
            {
                parameter.copy_(original + step);
                plus = Loss();
                parameter.copy_(original - step);
                minus = Loss();
                parameter.copy_(original);
            }

            double numeric = (plus - minus) / (2 * eps);
            expected.Should().BeApproximately(numeric, 1e-7 + (1e-5 * Math.Abs(numeric)), "d loss / d {0} along a random direction", key);
            checkedTensors++;
        }

        checkedTensors.Should().BeGreaterThan(10);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void ATinyModelOverfitsASmallFixedBatch(string name)
    {
        manual_seed(4);
        using var model = ModelKinds.Create(name, TinyOptions());
        model.train();
        var arrays = Arrays(new[] { 4, 3, 2, 4, 1, 3, 4, 2 }, 4, seed: 13);
        using var batch = new BehaviourBatch(arrays);
        var optimizer = optim.Adam(model.parameters(), 0.05);
        double first = 0;
        double last = 0;
        for (int step = 0; step < 60; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            using var output = model.call(batch);
            output.Loss!.backward();
            optimizer.step();
            last = output.TargetLoss!.item<float>();
            if (step == 0)
            {
                first = last;
            }
        }

        // Labels alternate 0/1, so a constant prediction cannot go below ln 2 = 0.693. Eight distinct rows and
        // hundreds of parameters can be memorised: a mean BCE below 0.1 means every row is predicted right with
        // probability about 0.9 or more on average, far beyond what a constant or a shrinking initial loss gives.
        first.Should().BeGreaterThan(0.5);
        last.Should().BeLessThan(0.1);
    }

    [Fact]
    public void AlphaZeroBuildsNoScorerAndNeedsNoNegatives()
    {
        manual_seed(5);
        var options = TinyOptions();
        options.Alpha = 0;
        using var model = new DienModel(options);
        model.named_parameters().Should().NotContain(p => p.name.StartsWith("auxiliary.", StringComparison.Ordinal));
        model.train();
        using var batch = new BehaviourBatch(Arrays(new[] { 2, 3 }, 3, seed: 1, negatives: false));
        using var output = model.call(batch);
        output.AuxiliaryLoss.Should().BeNull();
        output.Loss!.item<float>().Should().Be(output.TargetLoss!.item<float>());
    }

    [Fact]
    public void EvaluationSkipsTheAuxiliaryLossAndTakesABatchOfOne()
    {
        manual_seed(6);
        var options = TinyOptions();
        options.HeadActivation = HeadActivation.Dice;
        using var model = new DienModel(options);
        model.eval();
        using var batch = new BehaviourBatch(Arrays(new[] { 2 }, 3, seed: 2, negatives: false));
        using var output = model.call(batch);
        output.AuxiliaryLoss.Should().BeNull();
        output.Logit.shape.Should().Equal(1);
        float.IsFinite(output.Loss!.item<float>()).Should().BeTrue();
    }

    [Fact]
    public void LabelledHistoryAuxiliaryLossRunsWithHistoryLabels()
    {
        manual_seed(7);
        var options = TinyOptions();
        options.AuxiliaryLoss = AuxiliaryLossForm.LabelledHistory;
        options.HiddenSize = options.BehaviourSize;
        using var model = new DienModel(options);
        model.train();
        using var missing = new BehaviourBatch(Arrays(new[] { 2, 3 }, 3, seed: 3));
        var act = () => model.call(missing);
        act.Should().Throw<ArgumentException>().Where(e => e.Message.Contains("HistoryLabels"));

        using var batch = new BehaviourBatch(Arrays(new[] { 2, 3 }, 3, seed: 3, historyLabels: true));
        using var output = model.call(batch);
        output.AuxiliaryLoss!.item<float>().Should().BeGreaterThan(0);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void ATrainingBatchOfOneWithBatchNormIsRejectedClearly(string name)
    {
        using var model = ModelKinds.Create(name, TinyOptions());
        model.train();
        using var batch = new BehaviourBatch(Arrays(new[] { 2 }, 3, seed: 3));
        var act = () => model.call(batch);
        act.Should().Throw<ArgumentException>().Where(e => e.GetType() == typeof(ArgumentException) && e.Message.Contains("Size = 1") && e.Message.Contains("eval()"));

        model.eval();
        using var output = model.call(batch);
        float.IsFinite(output.Probability.item<float>()).Should().BeTrue();
    }

    [Fact]
    public void MissingNegativesInTrainingAreReportedByName()
    {
        using var model = new DienModel(TinyOptions());
        model.train();
        using var batch = new BehaviourBatch(Arrays(new[] { 2, 3 }, 3, seed: 3, negatives: false));
        var act = () => model.call(batch);
        act.Should().Throw<ArgumentException>().Where(e => e.Message.Contains("NegativeItems") && e.ParamName == "NegativeItems");
    }

    [Theory]
    [InlineData("TargetItems", 12L)]
    [InlineData("HistoryItems", 40L)]
    [InlineData("HistoryCategories", 5L)]
    [InlineData("UserIds", 6L)]
    [InlineData("NegativeItems", 100L)]
    public void OutOfRangeIdsAreRejectedNamingFieldAndValue(string field, long value)
    {
        using var model = new DienModel(TinyOptions());
        var arrays = Arrays(new[] { 2, 3 }, 3, seed: 4);
        (field switch
        {
            "TargetItems" => arrays.TargetItems,
            "HistoryItems" => arrays.HistoryItems,
            "HistoryCategories" => arrays.HistoryCategories,
            "UserIds" => arrays.UserIds,
            _ => arrays.NegativeItems!,
        })[1] = value;
        using var batch = new BehaviourBatch(arrays);
        var act = () => model.call(batch);
        act.Should().Throw<ArgumentException>().Where(e => e.GetType() == typeof(ArgumentException) && e.Message.Contains(field) && e.Message.Contains(value.ToString()));
    }

    [Fact]
    public void NegativeIdsMismatchedLengthsAndLengthsBeyondTheWidthAreRejectedNamingFieldAndValue()
    {
        var negative = Arrays(new[] { 2, 3 }, 3, seed: 4);
        negative.HistoryItems[1] = -4;
        var act = () => new BehaviourBatch(negative);
        act.Should().Throw<ArgumentException>().Where(e => e.Message.Contains("HistoryItems") && e.Message.Contains("-4"));

        var original = Arrays(new[] { 2, 3 }, 3, seed: 4);
        var mismatched = new BatchArrays
        {
            Size = 2, Width = 3, UserIds = original.UserIds, TargetItems = original.TargetItems, TargetCategories = original.TargetCategories,
            HistoryItems = original.HistoryItems, HistoryCategories = original.HistoryCategories.Take(5).ToArray(), Lengths = original.Lengths,
        };
        act = () => new BehaviourBatch(mismatched);
        act.Should().Throw<ArgumentException>().Where(e => e.Message.Contains("HistoryCategories") && e.Message.Contains("5"));

        var tooLong = Arrays(new[] { 2, 3 }, 3, seed: 4);
        tooLong.Lengths[0] = 4;
        act = () => new BehaviourBatch(tooLong);
        act.Should().Throw<ArgumentException>().Where(e => e.Message.Contains("Lengths") && e.Message.Contains("4"));
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void InvalidOptionsReportEveryProblemTogether(string name)
    {
        var options = TinyOptions();
        options.ItemVocabularySize = 1;
        options.HiddenSize = 0;
        options.HeadDropout = 1.5;
        options.HeadHiddenSizes = new List<int> { 8, -2 };
        var act = () => ModelKinds.Create(name, options);
        var error = act.Should().Throw<CtrModelOptionsException>().Which;
        error.Errors.Should().HaveCount(4);
        foreach (var option in new[] { "ItemVocabularySize", "HiddenSize", "HeadDropout", "HeadHiddenSizes[1]" })
        {
            error.Errors.Should().ContainSingle(e => e.StartsWith(option + " ", StringComparison.Ordinal));
            error.Message.Should().Contain(option);
        }
    }

    [Fact]
    public void AnUndefinedAttentionNormalizationIsReportedByNameAndValue()
    {
        var options = TinyOptions();
        options.AttentionNormalization = (AttentionNormalization)7;

        var act = () => new DinModel(options);

        var error = act.Should().Throw<CtrModelOptionsException>().Which;
        error.Errors.Should().ContainSingle().Which.Should().StartWith("AttentionNormalization = 7").And.Contain("not a defined normalisation");
    }

    [Fact]
    public void TheModelKeepsACopyOfItsOptions()
    {
        var options = TinyOptions();
        using var model = new SumPoolingModel(options);
        options.HiddenSize = 99;
        model.Options.HiddenSize.Should().Be(4);
    }
}
