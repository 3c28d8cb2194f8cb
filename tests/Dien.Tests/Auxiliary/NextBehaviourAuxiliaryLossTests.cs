using Dien.Auxiliary;
using Dien.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static Dien.Tests.TestKit;
using static TorchSharp.torch;

namespace Dien.Tests.Auxiliary;

[Collection("Sequential")]
public sealed class NextBehaviourAuxiliaryLossTests
{
    [Fact]
    public void InnerProductLossIsTheMeanOverValidPairsOnly()
    {
        torch.manual_seed(31);
        using var scope = NewDisposeScope();
        using var loss = new NextBehaviourAuxiliaryLoss(2, 2, AuxiliaryScorer.InnerProduct, new List<int>());
        int[] lengths = { 4, 1, 3, 0 };
        var states = randn(4, 4, 2, ScalarType.Float64);
        var behaviours = randn(4, 4, 2, ScalarType.Float64);
        var negatives = randn(4, 4, 2, ScalarType.Float64);

        double actual = loss.call(states, behaviours, negatives, Mask(lengths, 4)).item<double>();

        var h = Values(states);
        var e = Values(behaviours);
        var n = Values(negatives);
        double sum = 0;
        int pairs = 0;
        for (int b = 0; b < 4; b++)
        {
            for (int t = 0; t + 1 < lengths[b]; t++)
            {
                int at = (b * 4 + t) * 2;
                int next = (b * 4 + t + 1) * 2;
                double positive = h[at] * e[next] + h[at + 1] * e[next + 1];
                double negative = h[at] * n[next] + h[at + 1] * n[next + 1];
                sum += Math.Log(Sigmoid(positive)) + Math.Log(1 - Sigmoid(negative));
                pairs++;
            }
        }

        pairs.Should().Be(5);
        actual.Should().BeApproximately(-sum / pairs, 1e-10);
    }

    [Fact]
    public void MlpScorerMatchesAScalarForwardPass()
    {
        torch.manual_seed(37);
        using var scope = NewDisposeScope();
        using var loss = new NextBehaviourAuxiliaryLoss(1, 1, AuxiliaryScorer.Mlp, new List<int> { 2 });
        SetParameter(loss, "layers.0.weight", 0.5, -0.7, 0.3, 0.9);
        SetParameter(loss, "layers.0.bias", 0.1, -0.2);
        SetParameter(loss, "output.weight", 1.5, -2.0);
        SetParameter(loss, "output.bias", 0.25);
        double[] h = { 0.4, -0.8, 1.1 };
        double[] e = { 9.0, 0.6, -0.3 };
        double[] n = { 9.0, -1.4, 0.2 };
        int[] lengths = { 3 };

        double actual = loss.call(
            tensor(h.Select(v => (float)v).ToArray()).reshape(1, 3, 1),
            tensor(e.Select(v => (float)v).ToArray()).reshape(1, 3, 1),
            tensor(n.Select(v => (float)v).ToArray()).reshape(1, 3, 1),
            Mask(lengths, 3)).item<float>();

        static double Logit(double state, double behaviour)
        {
            double first = Sigmoid(0.5 * state - 0.7 * behaviour + 0.1);
            double second = Sigmoid(0.3 * state + 0.9 * behaviour - 0.2);
            return 1.5 * first - 2.0 * second + 0.25;
        }

        double sum = 0;
        for (int t = 0; t < 2; t++)
        {
            sum += Math.Log(Sigmoid(Logit(h[t], e[t + 1]))) + Math.Log(1 - Sigmoid(Logit(h[t], n[t + 1])));
        }

        actual.Should().BeApproximately(-sum / 2, 1e-5);
    }

    [Fact]
    public void MlpStateDictFollowsTheHiddenSizes()
    {
        using var loss = new NextBehaviourAuxiliaryLoss(4, 6, AuxiliaryScorer.Mlp, new List<int> { 100, 50 });
        var shapes = loss.state_dict().ToDictionary(p => p.Key, p => p.Value.shape);
        shapes.Keys.Should().BeEquivalentTo(
            "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "output.weight", "output.bias");
        shapes["layers.0.weight"].Should().Equal(100, 10);
        shapes["layers.1.weight"].Should().Equal(50, 100);
        shapes["output.weight"].Should().Equal(1, 50);

        using var inner = new NextBehaviourAuxiliaryLoss(4, 4, AuxiliaryScorer.InnerProduct, new List<int> { 100, 50 });
        inner.state_dict().Should().BeEmpty();
    }

    [Fact]
    public void PaddingChangesNoLossOrGradient()
    {
        torch.manual_seed(41);
        using var scope = NewDisposeScope();
        using var loss = new NextBehaviourAuxiliaryLoss(3, 2, AuxiliaryScorer.Mlp, new List<int> { 5, 4 });
        int[] lengths = { 4, 2, 1 };
        var mask = Mask(lengths, 4);
        var states = randn(3, 4, 3);
        var behaviours = randn(3, 4, 2);
        var negatives = randn(3, 4, 2);

        var (value, grads) = Run(loss, states, behaviours, negatives, mask);
        var (scrambled, scrambledGrads) = Run(
            loss, ScramblePadding(states, mask), ScramblePadding(behaviours, mask), ScramblePadding(negatives, mask), mask);
        var (longer, longerGrads) = Run(
            loss, AppendPadding(states, 3), AppendPadding(behaviours, 3), AppendPadding(negatives, 3), Mask(lengths, 7));

        scrambled.Should().Be(value);
        longer.Should().Be(value);
        scrambledGrads.Zip(grads).Should().OnlyContain(p => p.First.allclose(p.Second, 1e-6, 1e-7));
        longerGrads.Zip(grads).Should().OnlyContain(p => p.First.allclose(p.Second, 1e-6, 1e-7));
    }

    [Theory]
    [InlineData(AuxiliaryScorer.Mlp)]
    [InlineData(AuxiliaryScorer.InnerProduct)]
    public void NoValidPairGivesAZeroLossWithAGraph(AuxiliaryScorer scorer)
    {
        using var scope = NewDisposeScope();
        using var loss = new NextBehaviourAuxiliaryLoss(2, 2, scorer, new List<int> { 3 });
        foreach (var (steps, lengths) in new[] { (3L, new[] { 1, 0 }), (1L, new[] { 1, 1 }) })
        {
            loss.zero_grad();
            var states = randn(2, steps, 2).requires_grad_();
            var value = loss.call(states, randn(2, steps, 2), randn(2, steps, 2), Mask(lengths, steps));
            value.dim().Should().Be(0);
            value.item<float>().Should().Be(0);
            value.requires_grad.Should().BeTrue();
            value.backward();
            states.grad!.count_nonzero().item<long>().Should().Be(0);
            loss.parameters().Where(p => p.grad is not null).Select(p => p.grad!.count_nonzero().item<long>()).Should().AllBeEquivalentTo(0L);
        }
    }

    [Fact]
    public void ExtremeLogitsStayFinite()
    {
        using var scope = NewDisposeScope();
        using var loss = new NextBehaviourAuxiliaryLoss(1, 1, AuxiliaryScorer.InnerProduct, new List<int>());
        var states = tensor(new float[] { 100f, 0f }).reshape(1, 2, 1).requires_grad_();
        var value = loss.call(states, tensor(new float[] { 0f, -100f }).reshape(1, 2, 1), tensor(new float[] { 0f, 100f }).reshape(1, 2, 1), Mask(new[] { 2 }, 2));
        value.item<float>().Should().BeApproximately(20000f, 1f);
        value.backward();
        states.grad!.isfinite().all().item<bool>().Should().BeTrue();
    }

    [Fact]
    public void InnerProductNeedsEqualWidthsAndSaysWhich()
    {
        FluentActions.Invoking(() => new NextBehaviourAuxiliaryLoss(36, 18, AuxiliaryScorer.InnerProduct, new List<int>()))
            .Should().Throw<ArgumentException>().WithMessage("*hiddenSize = 36*behaviourSize = 18*");
    }

    [Fact]
    public void MismatchedInputsAreRejectedWithTheirName()
    {
        using var scope = NewDisposeScope();
        using var loss = new NextBehaviourAuxiliaryLoss(2, 3, AuxiliaryScorer.Mlp, new List<int> { 4 });
        var mask = Mask(new[] { 2, 2 }, 3);
        loss.Invoking(l => l.call(randn(2, 3, 2), randn(2, 3, 3), randn(2, 2, 3), mask)).Should().Throw<ArgumentException>().WithMessage("*negatives*");
        loss.Invoking(l => l.call(randn(2, 3, 2), randn(2, 3, 2), randn(2, 3, 3), mask)).Should().Throw<ArgumentException>().WithMessage("*behaviours*");
        loss.Invoking(l => l.call(randn(2, 3, 2), randn(2, 3, 3), randn(2, 3, 3), ones(2, 3))).Should().Throw<ArgumentException>().WithMessage("*mask*");
    }

    private static (float Value, Tensor[] Grads) Run(NextBehaviourAuxiliaryLoss loss, Tensor states, Tensor behaviours, Tensor negatives, Tensor mask)
    {
        loss.zero_grad();
        var value = loss.call(states, behaviours, negatives, mask);
        value.backward();
        return (value.item<float>(), loss.parameters().Select(p => p.grad!.clone()).ToArray());
    }
}
