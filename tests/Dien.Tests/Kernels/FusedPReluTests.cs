using Dien.Kernels.Activation;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Kernels;

/// <summary><see cref="FusedPRelu"/>: the values and gradients of libtorch's <c>prelu</c>, zeros included.</summary>
public sealed class FusedPReluTests
{
    [Theory]
    [InlineData(ScalarType.Float64, 7, 13)] // columns not a whole number of vectors
    [InlineData(ScalarType.Float64, 128, 200)] // W's first head layer
    [InlineData(ScalarType.Float32, 128, 80)]
    public void Value_and_gradients_equal_libtorch_prelu(ScalarType dtype, int rows, int columns)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(seed: 31);
        var x = randn(new long[] { rows, columns }, dtype: dtype, generator: generator);
        // Some exact zeros: there the input's gradient takes the slope, as libtorch's does.
        x = x.masked_fill(rand(new long[] { rows, columns }, generator: generator).lt(0.05), 0).requires_grad_();
        var slopes = (rand(new long[] { columns }, dtype: dtype, generator: generator) * 0.5).requires_grad_();
        var upstream = randn(new long[] { rows, columns }, dtype: dtype, generator: generator);

        var y = FusedPRelu.Apply(x, slopes);
        (y * upstream).sum().backward();
        var (gx, ga) = (x.grad!.clone(), slopes.grad!.clone());
        x.grad!.zero_();
        slopes.grad!.zero_();
        var expected = nn.functional.prelu(x, slopes);
        (expected * upstream).sum().backward();

        y.eq(expected).all().item<bool>().Should().BeTrue("the values");
        gx.eq(x.grad!).all().item<bool>().Should().BeTrue("the input's gradient");
        double tolerance = dtype == ScalarType.Float64 ? 1e-12 : 1e-5;
        ((ga - slopes.grad!).abs().max() / slopes.grad!.abs().max()).to_type(ScalarType.Float64).item<double>().Should().BeLessThan(tolerance, "the slopes' gradient sums the rows in another order");
        ga.abs().sum().to_type(ScalarType.Float64).item<double>().Should().BeGreaterThan(0);
    }

    [Fact]
    public void Without_a_gradient_or_in_another_shape_it_is_libtorch_prelu()
    {
        using var scope = NewDisposeScope();
        var x = randn(new long[] { 4, 3, 5 });
        var slopes = full(3, 0.25f).requires_grad_();
        using (no_grad())
        {
            FusedPRelu.Apply(randn(6, 3), slopes).requires_grad.Should().BeFalse();
        }

        // [N, C, L] is libtorch's own route (channels in dimension 1).
        FusedPRelu.Apply(x, slopes).eq(nn.functional.prelu(x, slopes)).all().item<bool>().Should().BeTrue();
    }
}
