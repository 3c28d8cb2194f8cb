using Dien.Evolution;
using Dien.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static Dien.Tests.TestKit;
using static TorchSharp.torch;

namespace Dien.Tests.Evolution;

[Collection("Sequential")]
public sealed class InterestEvolutionTests
{
    // Hand-set weights for H_in = H = 1, rows (r, u, h~).
    private static readonly double[] Wi = { 0.6, -0.4, 0.9 };
    private static readonly double[] Wh = { -0.3, 0.5, 0.7 };
    private static readonly double[] Bi = { 0.1, 0.2, -0.1 };
    private static readonly double[] Bh = { 0.05, -0.15, 0.3 };

    public static TheoryData<EvolutionVariant> Variants => new()
    {
        EvolutionVariant.Augru, EvolutionVariant.AugruAuthorsCode, EvolutionVariant.Agru, EvolutionVariant.Aigru, EvolutionVariant.Gru,
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void StateDictHasTheCellParameters(EvolutionVariant variant)
    {
        using var evolution = new InterestEvolution(3, 2, variant);
        var shapes = evolution.state_dict().ToDictionary(p => p.Key, p => p.Value.shape);
        shapes.Keys.Should().BeEquivalentTo("weight_ih", "weight_hh", "bias_ih", "bias_hh");
        shapes["weight_ih"].Should().Equal(6, 3);
        shapes["weight_hh"].Should().Equal(6, 2);
        shapes["bias_ih"].Should().Equal(6);
        shapes["bias_hh"].Should().Equal(6);
        double bound = 1 / Math.Sqrt(2);
        evolution.parameters().Should().OnlyContain(p => p.abs().max().item<float>() <= bound);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void MatchesHandComputedSteps(EvolutionVariant variant)
    {
        double[][] x = { new[] { 0.8, -1.2, 0.4 }, new[] { -0.5, 1.5, 7.0 } };
        double[][] a = { new[] { 0.2, 0.5, 0.3 }, new[] { 0.9, 0.1, 0.0 } };
        int[] lengths = { 3, 2 };

        var actual = Run(variant, x, a, lengths);

        for (int b = 0; b < 2; b++)
        {
            double h = 0;
            double weighted = 0;
            for (int t = 0; t < lengths[b]; t++)
            {
                double input = variant == EvolutionVariant.Aigru ? a[b][t] * x[b][t] : x[b][t];
                h = ScalarStep(variant, input, h, a[b][t]);
                weighted += a[b][t] * h;
            }

            double expected = variant == EvolutionVariant.Gru ? weighted : h;
            actual[b].Should().BeApproximately(expected, 1e-6, "row {0}", b);
        }
    }

    [Fact]
    public void ZeroAttentionKeepsThePaperStateButIsAPlainGruStepInTheAuthorsForm()
    {
        double[][] x = { new[] { 0.8, -1.2 } };
        double[][] a = { new[] { 0.6, 0.0 } };
        int[] lengths = { 2 };

        double afterFirst = ScalarStep(EvolutionVariant.Augru, 0.8, 0, 0.6);
        Run(EvolutionVariant.Augru, x, a, lengths)[0].Should().BeApproximately(afterFirst, 1e-6);

        double authorsFirst = ScalarStep(EvolutionVariant.AugruAuthorsCode, 0.8, 0, 0.6);
        double plainSecond = ScalarStep(EvolutionVariant.Gru, -1.2, authorsFirst, 1.0);
        double authors = Run(EvolutionVariant.AugruAuthorsCode, x, a, lengths)[0];
        authors.Should().BeApproximately(plainSecond, 1e-6);
        authors.Should().NotBeApproximately(authorsFirst, 1e-3);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void PaddingChangesNoOutputOrGradient(EvolutionVariant variant)
    {
        torch.manual_seed(17);
        using var scope = NewDisposeScope();
        using var evolution = new InterestEvolution(3, 2, variant);
        int[] lengths = { 4, 2, 0 };
        var mask = Mask(lengths, 4);
        var states = randn(3, 4, 3);
        var attention = rand(3, 4).masked_fill(mask.logical_not(), 0.0);
        var weights = randn(3, 2);

        var reference = Gradients(evolution, states, attention, mask, lengths, weights);

        var scrambled = Gradients(evolution, ScramblePadding(states, mask), ScramblePadding(attention, mask), mask, lengths, weights);
        Same(scrambled, reference, 4);

        var longer = Gradients(
            evolution, AppendPadding(ScramblePadding(states, mask), 2), AppendPadding(attention, 2), Mask(lengths, 6), lengths, weights);
        Same(longer, reference, 4);

        reference.Output[2].count_nonzero().item<long>().Should().Be(0);
        reference.StateGrad.masked_select(mask.logical_not().unsqueeze(-1).expand_as(reference.StateGrad))
            .count_nonzero().item<long>().Should().Be(0);
        reference.StateGrad.masked_select(mask.unsqueeze(-1).expand_as(reference.StateGrad))
            .count_nonzero().item<long>().Should().BeGreaterThan(0);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void GradientsMatchFiniteDifferences(EvolutionVariant variant)
    {
        torch.manual_seed(23);
        using var scope = NewDisposeScope();
        using var evolution = new InterestEvolution(2, 2, variant);
        evolution.to(ScalarType.Float64);
        int[] lengths = { 3, 1, 0 };
        var mask = Mask(lengths, 3);
        var states = randn(3, 3, 2, ScalarType.Float64).requires_grad_();
        var attention = rand(3, 3, ScalarType.Float64).masked_fill(mask.logical_not(), 0.0).requires_grad_();
        var weights = randn(3, 2, ScalarType.Float64);

        var targets = evolution.named_parameters().Select(p => (p.name, (Tensor)p.parameter))
            .Append(("states", states)).Append(("attention", attention));
        CheckGradients(() => (evolution.call(states, attention, mask, lengths) * weights).sum(), targets);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void EmptyRowsGiveZeroInterestAndFiniteGradients(EvolutionVariant variant)
    {
        torch.manual_seed(29);
        using var scope = NewDisposeScope();
        using var evolution = new InterestEvolution(3, 2, variant);

        var none = evolution.call(randn(2, 3, 3), zeros(2, 3), Mask(new[] { 0, 0 }, 3), new[] { 0, 0 });
        none.shape.Should().Equal(2, 2);
        none.count_nonzero().item<long>().Should().Be(0);

        int[] lengths = { 0, 3 };
        var states = randn(2, 3, 3).requires_grad_();
        var attention = tensor(new float[] { 0, 0, 0, 0.2f, 0.3f, 0.5f }).reshape(2, 3);
        var output = evolution.call(states, attention, Mask(lengths, 3), lengths);
        output[0].count_nonzero().item<long>().Should().Be(0);
        output.isfinite().all().item<bool>().Should().BeTrue();
        output.sum().backward();
        evolution.parameters().Should().OnlyContain(p => p.grad!.isfinite().all().item<bool>());
        states.grad!.isfinite().all().item<bool>().Should().BeTrue();
        states.grad![0].count_nonzero().item<long>().Should().Be(0);
    }

    [Fact]
    public void BadInputIsRejectedWithItsName()
    {
        using var scope = NewDisposeScope();
        using var evolution = new InterestEvolution(3, 2, EvolutionVariant.Augru);
        var states = randn(2, 3, 3);
        var attention = zeros(2, 3);
        var mask = Mask(new[] { 1, 1 }, 3);
        evolution.Invoking(e => e.call(states, attention, mask, new[] { -1, 1 })).Should().Throw<ArgumentException>().WithMessage("*lengths[0] = -1*");
        evolution.Invoking(e => e.call(states, zeros(2, 4), mask, new[] { 1, 1 })).Should().Throw<ArgumentException>().WithMessage("*attention*");
        evolution.Invoking(e => e.call(randn(2, 3, 2), attention, mask, new[] { 1, 1 })).Should().Throw<ArgumentException>().WithMessage("*states*");
        FluentActions.Invoking(() => new InterestEvolution(3, 2, (EvolutionVariant)42)).Should().Throw<ArgumentOutOfRangeException>();
    }

    /// <summary>One step of each form, in the paper's convention (u moves towards the candidate), as scalars.</summary>
    private static double ScalarStep(EvolutionVariant variant, double x, double h, double a)
    {
        double r = Sigmoid(Wi[0] * x + Bi[0] + Wh[0] * h + Bh[0]);
        double u = Sigmoid(Wi[1] * x + Bi[1] + Wh[1] * h + Bh[1]);
        double candidate = Math.Tanh(Wi[2] * x + Bi[2] + r * (Wh[2] * h + Bh[2]));
        switch (variant)
        {
            case EvolutionVariant.Augru:
                double scaled = a * u;
                return (1 - scaled) * h + scaled * candidate;
            case EvolutionVariant.AugruAuthorsCode:
                double keep = (1 - a) * (1 - u);
                return keep * h + (1 - keep) * candidate;
            case EvolutionVariant.Agru:
                return (1 - a) * h + a * candidate;
            default:
                return (1 - u) * h + u * candidate;
        }
    }

    private static double[] Run(EvolutionVariant variant, double[][] x, double[][] a, int[] lengths)
    {
        using var scope = NewDisposeScope();
        using var evolution = new InterestEvolution(1, 1, variant);
        SetParameter(evolution, "weight_ih", Wi);
        SetParameter(evolution, "weight_hh", Wh);
        SetParameter(evolution, "bias_ih", Bi);
        SetParameter(evolution, "bias_hh", Bh);
        long steps = x[0].Length;
        var states = tensor(x.SelectMany(r => r).Select(v => (float)v).ToArray()).reshape(x.Length, steps, 1);
        var attention = tensor(a.SelectMany(r => r).Select(v => (float)v).ToArray()).reshape(x.Length, steps);
        return Values(evolution.call(states, attention, Mask(lengths, steps), lengths));
    }

    private static (Tensor Output, Tensor[] ParameterGrads, Tensor StateGrad, Tensor AttentionGrad) Gradients(
        InterestEvolution evolution, Tensor states, Tensor attention, Tensor mask, int[] lengths, Tensor weights)
    {
        evolution.zero_grad();
        var s = states.detach().clone().requires_grad_();
        var a = attention.detach().clone().requires_grad_();
        var output = evolution.call(s, a, mask, lengths);
        (output * weights).sum().backward();
        return (output.detach(), evolution.parameters().Select(p => p.grad!.clone()).ToArray(), s.grad!.clone(), a.grad!.clone());
    }

    private static void Same(
        (Tensor Output, Tensor[] ParameterGrads, Tensor StateGrad, Tensor AttentionGrad) actual,
        (Tensor Output, Tensor[] ParameterGrads, Tensor StateGrad, Tensor AttentionGrad) expected,
        long steps)
    {
        actual.Output.allclose(expected.Output, 0, 0).Should().BeTrue();
        actual.ParameterGrads.Zip(expected.ParameterGrads).Should().OnlyContain(p => p.First.allclose(p.Second, 1e-6, 1e-7));
        actual.StateGrad.narrow(1, 0, steps).allclose(expected.StateGrad, 0, 0).Should().BeTrue();
        actual.AttentionGrad.narrow(1, 0, steps).allclose(expected.AttentionGrad, 0, 0).Should().BeTrue();
        actual.StateGrad.narrow(1, steps, actual.StateGrad.shape[1] - steps).count_nonzero().item<long>().Should().Be(0);
    }
}
