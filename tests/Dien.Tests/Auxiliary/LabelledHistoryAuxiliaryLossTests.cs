using Dien.Auxiliary;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static Dien.Tests.TestKit;
using static TorchSharp.torch;

namespace Dien.Tests.Auxiliary;

[Collection("Sequential")]
public sealed class LabelledHistoryAuxiliaryLossTests
{
    [Fact]
    public void IsTheBinaryCrossEntropyOverValidPositionsOnly()
    {
        torch.manual_seed(43);
        using var scope = NewDisposeScope();
        using var loss = new LabelledHistoryAuxiliaryLoss();
        int[] lengths = { 3, 1, 0 };
        var states = randn(3, 3, 2, ScalarType.Float64);
        var behaviours = randn(3, 3, 2, ScalarType.Float64);
        var labels = tensor(new double[] { 1, 0, 1, 0, 1, 1, 1, 0, 1 }).reshape(3, 3);

        double actual = loss.call(states, behaviours, labels, Mask(lengths, 3)).item<double>();

        var h = Values(states);
        var e = Values(behaviours);
        var y = Values(labels);
        double sum = 0;
        int count = 0;
        for (int b = 0; b < 3; b++)
        {
            for (int t = 0; t < lengths[b]; t++)
            {
                int at = (b * 3 + t) * 2;
                double p = Sigmoid(h[at] * e[at] + h[at + 1] * e[at + 1]);
                double label = y[b * 3 + t];
                sum -= label * Math.Log(p) + (1 - label) * Math.Log(1 - p);
                count++;
            }
        }

        count.Should().Be(4);
        actual.Should().BeApproximately(sum / count, 1e-10);
        loss.parameters().Should().BeEmpty();
    }

    [Fact]
    public void PaddingChangesNothingAndNoValidPositionGivesZero()
    {
        torch.manual_seed(47);
        using var scope = NewDisposeScope();
        using var loss = new LabelledHistoryAuxiliaryLoss();
        int[] lengths = { 2, 3 };
        var mask = Mask(lengths, 3);
        var states = randn(2, 3, 2);
        var behaviours = randn(2, 3, 2);
        var labels = tensor(new float[] { 1, 0, 1, 0, 1, 1 }).reshape(2, 3);

        float value = loss.call(states, behaviours, labels, mask).item<float>();
        loss.call(ScramblePadding(states, mask), ScramblePadding(behaviours, mask), ScramblePadding(labels, mask), mask)
            .item<float>().Should().Be(value);

        var empty = randn(2, 3, 2).requires_grad_();
        var zero = loss.call(empty, behaviours, labels, Mask(new[] { 0, 0 }, 3));
        zero.item<float>().Should().Be(0);
        zero.requires_grad.Should().BeTrue();
        zero.backward();
        empty.grad!.count_nonzero().item<long>().Should().Be(0);
    }

    [Fact]
    public void NeedsEqualStateAndBehaviourWidths()
    {
        using var scope = NewDisposeScope();
        using var loss = new LabelledHistoryAuxiliaryLoss();
        loss.Invoking(l => l.call(randn(2, 3, 4), randn(2, 3, 5), zeros(2, 3), Mask(new[] { 1, 1 }, 3)))
            .Should().Throw<ArgumentException>().WithMessage("*behaviours*[2, 3, 5]*[2, 3, 4]*width of the states*");
    }
}
