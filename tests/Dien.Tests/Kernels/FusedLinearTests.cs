using Dien.Kernels.Projection;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Kernels;

/// <summary>
/// <see cref="FusedLinear"/>: where it trains on its own kernel, the value and every gradient equal libtorch's
/// linear layer (float64 to rounding, float32 at the recurrences' widths to float rounding); elsewhere it is
/// libtorch's linear layer.
/// </summary>
public sealed class FusedLinearTests
{
    [Theory]
    [InlineData(new long[] { 7 }, 5, 3, true)] // fewer rows than a tile; widths under one vector
    [InlineData(new long[] { 250 }, 36, 108, true)] // several tiles, the last one partial; W's widths
    [InlineData(new long[] { 4, 33 }, 17, 40, false)] // leading dimensions kept; no bias
    [InlineData(new long[] { 0 }, 6, 9, true)] // no rows
    public void Value_and_gradients_equal_libtorch_linear_in_float64(long[] rows, int inputs, int outputs, bool withBias)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(seed: 11);
        var x = randn([.. rows, inputs], dtype: ScalarType.Float64, generator: generator).requires_grad_();
        var weight = randn(new long[] { outputs, inputs }, dtype: ScalarType.Float64, generator: generator).requires_grad_();
        var bias = withBias ? randn(new long[] { outputs }, dtype: ScalarType.Float64, generator: generator).requires_grad_() : null;
        var upstream = randn([.. rows, outputs], dtype: ScalarType.Float64, generator: generator);

        var y = FusedLinear.Apply(x, weight, bias);
        y.shape.Should().Equal([.. rows, (long)outputs]);
        (y * upstream).sum().backward();
        var (gx, gw, gb) = (x.grad!.clone(), weight.grad!.clone(), bias?.grad!.clone());
        x.grad!.zero_();
        weight.grad!.zero_();
        bias?.grad!.zero_();

        var expected = nn.functional.linear(x, weight, bias);
        (expected * upstream).sum().backward();

        y.allclose(expected, rtol: 0, atol: 1e-12).Should().BeTrue("the value");
        gx.allclose(x.grad!, rtol: 0, atol: 1e-12).Should().BeTrue("dx");
        gw.allclose(weight.grad!, rtol: 0, atol: 1e-11).Should().BeTrue("dW");
        if (bias is not null)
        {
            gb!.allclose(bias.grad!, rtol: 0, atol: 1e-11).Should().BeTrue("db");
        }

        if (rows[0] > 0)
        {
            gw.abs().sum().item<double>().Should().BeGreaterThan(0, "the weights get a gradient");
        }
    }

    [Fact]
    public void Float32_at_W_widths_agrees_to_float_rounding_on_several_workers()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(seed: 12);
        var x = randn(new long[] { 3520, 36 }, generator: generator).requires_grad_();
        var weight = (randn(new long[] { 108, 36 }, generator: generator) * 0.2).requires_grad_();
        var bias = randn(new long[] { 108 }, generator: generator).requires_grad_();
        var upstream = randn(new long[] { 3520, 108 }, generator: generator);

        var y = FusedLinear.Apply(x, weight, bias);
        (y * upstream).sum().backward();
        var (gx, gw, gb) = (x.grad!.clone(), weight.grad!.clone(), bias.grad!.clone());
        x.grad!.zero_();
        weight.grad!.zero_();
        bias.grad!.zero_();
        var expected = nn.functional.linear(x, weight, bias);
        (expected * upstream).sum().backward();

        (y - expected).abs().max().item<float>().Should().BeLessThan(2e-5f);
        (gx - x.grad!).abs().max().item<float>().Should().BeLessThan(2e-5f);
        // dW and db sum 3,520 rows: compare relative to their size.
        ((gw - weight.grad!).abs().max() / weight.grad!.abs().max()).item<float>().Should().BeLessThan(1e-5f);
        ((gb - bias.grad!).abs().max() / bias.grad!.abs().max()).item<float>().Should().BeLessThan(1e-5f);
    }

    [Fact]
    public void Without_a_gradient_it_is_libtorch_linear_to_the_bit()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(seed: 13);
        var x = randn(new long[] { 50, 36 }, generator: generator);
        var weight = randn(new long[] { 108, 36 }, generator: generator).requires_grad_();
        using (no_grad())
        {
            FusedLinear.Apply(x, weight, null).eq(nn.functional.linear(x, weight, null)).all().item<bool>().Should().BeTrue();
        }
    }

    [Fact]
    public void A_weight_of_the_wrong_width_is_refused_with_both_shapes()
    {
        using var scope = NewDisposeScope();
        var x = randn(new long[] { 4, 6 }).requires_grad_();
        var weight = randn(new long[] { 3, 5 });
        var act = () => FusedLinear.Apply(x, weight, null);
        act.Should().Throw<ArgumentException>().WithMessage("*[3, 5]*[4, 6]*");
    }
}
