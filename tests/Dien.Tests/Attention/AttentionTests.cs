using Dien.Attention;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static Dien.Tests.TestKit;
using static TorchSharp.torch;

namespace Dien.Tests.Attention;

[Collection("Sequential")]
public sealed class AttentionTests
{

    [Fact]
    public void BilinearWeightsMatchEquationEightOverValidPositions()
    {
        using var scope = NewDisposeScope();
        using var attention = new BilinearAttention(keySize: 2, querySize: 1);
        SetParameter(attention, "weight", 1, 2);                                   // W = [[1], [2]]
        var states = tensor(new double[] { 1, 0, 0, 1, 1, 1, 5, 5, 5, 5, 5, 5 }, ScalarType.Float32).reshape(2, 3, 2);
        var target = tensor(new float[] { 0.5f, 1f }).reshape(2, 1);
        var mask = tensor(new[] { true, true, false, false, false, false }).reshape(2, 3);

        var weights = Values(attention.call(states, target, mask));

        // Row 0: W e_a = (0.5, 1); scores h_t . (0.5, 1) = 0.5, 1 (position 2 is padding).
        double z = Math.Exp(0.5) + Math.Exp(1.0);
        weights.Take(3).Should().Equal(new[] { Math.Exp(0.5) / z, Math.Exp(1.0) / z, 0.0 }, (a, b) => Math.Abs(a - b) < 1e-6);
        weights[2].Should().Be(0.0, "a padded position gets exactly zero");
        weights.Skip(3).Should().Equal(0.0, 0.0, 0.0);
    }

    [Fact]
    public void MlpWeightsMatchAHandComputedCase()
    {
        using var scope = NewDisposeScope();
        using var attention = new MlpAttention(keySize: 1, querySize: 1, hiddenSizes: Array.Empty<int>());
        SetParameter(attention, "query.weight", 2);
        SetParameter(attention, "query.bias", 0.5);
        SetParameter(attention, "score.weight", 1, -1, 0.5, 0.25);
        SetParameter(attention, "score.bias", 0.1);
        var states = tensor(new float[] { 1, -2, 7 }).reshape(1, 3, 1);
        var target = tensor(new float[] { 1 }).reshape(1, 1);
        var mask = tensor(new[] { true, true, false }).reshape(1, 3);

        var weights = Values(attention.call(states, target, mask));

        double q = (2 * 1) + 0.5;
        double Score(double h) => (1 * q) - h + (0.5 * (q - h)) + (0.25 * q * h) + 0.1;
        double z = Math.Exp(Score(1)) + Math.Exp(Score(-2));
        weights.Should().Equal(new[] { Math.Exp(Score(1)) / z, Math.Exp(Score(-2)) / z, 0.0 }, (a, b) => Math.Abs(a - b) < 1e-6);
        weights[2].Should().Be(0.0);
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public void SigmoidWeightsAreEachScoresSigmoidAndIgnorePaddingAndLength(string form)
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var attention = Build(form, AttentionNormalization.Sigmoid);
        var states = randn(1, 4, 4);
        var target = randn(1, 3);
        var all = ones(1, 4, ScalarType.Bool);
        var firstTwo = tensor(new[] { true, true, false, false }).reshape(1, 4);

        // The same positions under softmax give the reference scores: log-softmax differences are score differences.
        var sigmoid = Values(attention.call(states, target, all));
        var shorter = Values(attention.call(states, target, firstTwo));
        SetNormalization(attention, AttentionNormalization.Softmax);

        var softmax = Values(attention.call(states, target, all));

        sigmoid.Should().OnlyContain(w => w > 0 && w < 1);
        sigmoid.Sum().Should().NotBeApproximately(1.0, 1e-3, "sigmoid weights are not normalised over the row");
        for (int t = 1; t < 4; t++)
        {
            double logit(double w) => Math.Log(w / (1 - w));
            (logit(sigmoid[t]) - logit(sigmoid[0])).Should().BeApproximately(Math.Log(softmax[t] / softmax[0]), 1e-4, "both read the same score at position {0}", t);
        }

        shorter.Take(2).Should().Equal(sigmoid.Take(2), "a weight depends only on its own score, not on the other positions");
        shorter.Skip(2).Should().Equal(0.0, 0.0);
    }

    public static TheoryData<string> Forms => new() { nameof(BilinearAttention), nameof(MlpAttention) };

    /// <summary>An attention of the named form over keys of width 4 and queries of width 3 (MLP: hidden 5, 2).</summary>
    private static nn.Module<Tensor, Tensor, Tensor, Tensor> Build(string form, AttentionNormalization normalization)
    {
        nn.Module<Tensor, Tensor, Tensor, Tensor> attention = form == nameof(BilinearAttention)
            ? new BilinearAttention(4, 3)
            : new MlpAttention(4, 3, new[] { 5, 2 });
        SetNormalization(attention, normalization);
        return attention;
    }

    private static void SetNormalization(nn.Module<Tensor, Tensor, Tensor, Tensor> attention, AttentionNormalization normalization)
    {
        if (attention is BilinearAttention bilinear)
        {
            bilinear.Normalization = normalization;
        }
        else
        {
            ((MlpAttention)attention).Normalization = normalization;
        }
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public void EmptyRowsGetZeroWeightsAndNoNaNForwardOrBackward(string form)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var attention = Build(form, AttentionNormalization.Softmax);
        var states = randn(3, 5, 4).requires_grad_();
        var target = randn(3, 3).requires_grad_();
        var mask = tensor(new[] { true, true, true, false, false, false, false, false, false, false, true, false, false, false, false }).reshape(3, 5);

        var weights = attention.call(states, target, mask);
        var values = Values(weights);
        values.Should().OnlyContain(v => double.IsFinite(v));
        values.Skip(5).Take(5).Should().Equal(0.0, 0.0, 0.0, 0.0, 0.0);
        values.Take(3).Sum().Should().BeApproximately(1.0, 1e-6);
        values.Skip(10).Should().Equal(1.0, 0.0, 0.0, 0.0, 0.0);

        (weights * randn(3, 5)).sum().backward();
        Values(states.grad!).Should().OnlyContain(v => double.IsFinite(v));
        Values(target.grad!).Should().OnlyContain(v => double.IsFinite(v));
        attention.parameters().Should().OnlyContain(p => Values(p.grad!).All(double.IsFinite));
        Values(states.grad!.narrow(0, 1, 1)).Should().OnlyContain(v => v == 0.0, "an empty row depends on nothing");
    }

    [Fact]
    public void ShapesAreCheckedNamingTheArgument()
    {
        using var attention = new BilinearAttention(4, 3);
        var act = () => attention.call(zeros(2, 5, 3), zeros(2, 3), ones(2, 5, ScalarType.Bool));
        act.Should().Throw<ArgumentException>().Where(e => e.ParamName == "states");
        act = () => attention.call(zeros(2, 5, 4), zeros(2, 4), ones(2, 5, ScalarType.Bool));
        act.Should().Throw<ArgumentException>().Where(e => e.ParamName == "target");
        act = () => attention.call(zeros(2, 5, 4), zeros(2, 3), ones(2, 5));
        act.Should().Throw<ArgumentException>().Where(e => e.ParamName == "mask");
    }
}
