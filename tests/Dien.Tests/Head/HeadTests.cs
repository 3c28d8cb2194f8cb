using Dien.Head;
using Dien.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static Dien.Tests.TestKit;
using static TorchSharp.torch;

namespace Dien.Tests.Head;

[Collection("Sequential")]
public sealed class HeadTests
{

    [Fact]
    public void DiceUsesBatchStatisticsInTrainingAndRunningStatisticsInEvaluation()
    {
        using var scope = NewDisposeScope();
        using var dice = new Dice(2, eps: 1e-8, momentum: 0.1);
        SetParameter(dice, "alpha", 0.0, 0.5);
        double[] column0 = { 1, 2, 4, 9 };
        double[] column1 = { -1, 0, 3, -2 };
        var input = tensor(column0.Zip(column1, (a, b) => new[] { a, b }).SelectMany(x => x).ToArray(), ScalarType.Float32).reshape(4, 2);

        dice.train();
        var trained = Values(dice.call(input));
        double[] alphas = { 0.0, 0.5 };
        var columns = new[] { column0, column1 };
        for (int c = 0; c < 2; c++)
        {
            double mean = columns[c].Average();
            double variance = columns[c].Select(v => (v - mean) * (v - mean)).Average();
            for (int b = 0; b < 4; b++)
            {
                double s = columns[c][b];
                double p = Sigmoid((s - mean) / Math.Sqrt(variance + 1e-8));
                trained[(b * 2) + c].Should().BeApproximately((p * s) + ((1 - p) * alphas[c] * s), 1e-5);
            }
        }

        // Running statistics moved towards the batch (BatchNorm's rule, unbiased variance).
        var buffers = dice.named_buffers().ToDictionary(b => b.name, b => Values(b.buffer));
        for (int c = 0; c < 2; c++)
        {
            double mean = columns[c].Average();
            double unbiased = columns[c].Select(v => (v - mean) * (v - mean)).Sum() / 3;
            buffers["norm.running_mean"][c].Should().BeApproximately(0.1 * mean, 1e-5);
            buffers["norm.running_var"][c].Should().BeApproximately(0.9 + (0.1 * unbiased), 1e-5);
        }

        dice.eval();
        var single = Values(dice.call(tensor(new float[] { 3, -1 }).reshape(1, 2)));
        double[] one = { 3, -1 };
        for (int c = 0; c < 2; c++)
        {
            double p = Sigmoid((one[c] - buffers["norm.running_mean"][c]) / Math.Sqrt(buffers["norm.running_var"][c] + 1e-8));
            single[c].Should().BeApproximately((p * one[c]) + ((1 - p) * alphas[c] * one[c]), 1e-5);
        }

        dice.named_buffers().Select(b => Values(b.buffer)).Should().BeEquivalentTo(buffers.Values, "evaluation leaves the running statistics alone");
    }

    [Fact]
    public void BatchNormHeadUpdatesRunningStatisticsInTrainingAndScoresABatchOfOneInEvaluation()
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        using var head = new MlpHead(3, new[] { 4 }, HeadActivation.Dice, batchNorm: true, dropout: 0.2, HeadOutput.Sigmoid);
        var input = randn(6, 3) * 3 + 2;
        head.train();
        head.training.Should().BeTrue();
        var before = Values(head.named_buffers().Single(b => b.name == "norm.running_mean").buffer);
        head.call(input);
        var after = Values(head.named_buffers().Single(b => b.name == "norm.running_mean").buffer);
        after.Should().NotEqual(before);

        head.eval();
        head.training.Should().BeFalse();
        var all = Values(head.call(input));
        var single = Values(head.call(input.narrow(0, 2, 1)));
        single.Should().HaveCount(1);
        single[0].Should().BeApproximately(all[2], 1e-6, "in evaluation each row is scored with running statistics, independently of the batch");
        Values(head.named_buffers().Single(b => b.name == "norm.running_mean").buffer).Should().Equal(after);
    }

    [Fact]
    public void PReluHeadMatchesHandComputation()
    {
        using var scope = NewDisposeScope();
        using var head = new MlpHead(1, new[] { 1 }, HeadActivation.PRelu, batchNorm: false, dropout: 0, HeadOutput.Sigmoid);
        SetParameter(head, "layers.0.weight", 2);
        SetParameter(head, "layers.0.bias", 0);
        SetParameter(head, "activations.0.weight", 0.25);
        SetParameter(head, "output.weight", 1);
        SetParameter(head, "output.bias", 0.5);
        var logits = Values(head.call(tensor(new float[] { -1, 3 }).reshape(2, 1)));
        logits.Should().Equal(new[] { (0.25 * -2) + 0.5, 6 + 0.5 }, (a, b) => Math.Abs(a - b) < 1e-6);
    }

    [Fact]
    public void SoftmaxHeadExposesTheDifferenceOfItsTwoLogits()
    {
        using var scope = NewDisposeScope();
        using var head = new MlpHead(2, Array.Empty<int>(), HeadActivation.PRelu, batchNorm: false, dropout: 0, HeadOutput.Softmax);
        SetParameter(head, "output.weight", 1, 2, 3, -1);
        SetParameter(head, "output.bias", 0.5, -0.5);
        var logit = Values(head.call(tensor(new float[] { 1, 1 }).reshape(1, 2)));
        double l0 = 1 + 2 + 0.5;
        double l1 = 3 - 1 - 0.5;
        logit[0].Should().BeApproximately(l1 - l0, 1e-6);
        Sigmoid(logit[0]).Should().BeApproximately(Math.Exp(l1) / (Math.Exp(l0) + Math.Exp(l1)), 1e-6);
    }
}
