using Dien.Kernels.Recurrence;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Kernels;

/// <summary>
/// <see cref="ValidPositionProjection"/>: on a batch that is mostly padding it gathers the valid positions, and
/// every value a recurrence reads, and every gradient, equals the plain product over the padded batch.
/// </summary>
public sealed class ValidPositionProjectionTests
{
    [Theory]
    [InlineData(new[] { 0, 1, 9, 2, 3, 0 }, 9, 9)] // 15 of 54 positions valid: gathered
    [InlineData(new[] { 2, 1, 4, 0 }, 9, 4)] // narrower than the input: the width is the longest length
    [InlineData(new[] { 9, 8, 9, 7 }, 9, 9)] // mostly valid: the plain product
    public void The_valid_positions_and_every_gradient_equal_the_padded_product(int[] lengths, int total, int steps)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(seed: 5);
        int batch = lengths.Length, width = 5, outputs = 7;
        var x = randn(new long[] { batch, total, width }, dtype: ScalarType.Float64, generator: generator).requires_grad_();
        var weight = randn(new long[] { outputs, width }, dtype: ScalarType.Float64, generator: generator).requires_grad_();
        var bias = randn(new long[] { outputs }, dtype: ScalarType.Float64, generator: generator).requires_grad_();
        var upstream = randn(new long[] { batch, steps, outputs }, dtype: ScalarType.Float64, generator: generator);
        var valid = (arange(steps).unsqueeze(0) < tensor(lengths).unsqueeze(1)).unsqueeze(-1).to_type(ScalarType.Float64);

        var projected = ValidPositionProjection.Linear(x, lengths, steps, weight, bias);
        projected.shape.Should().Equal(batch, steps, outputs);
        (projected * valid * upstream).sum().backward();
        var (gx, gw, gb) = (x.grad!.clone(), weight.grad!.clone(), bias.grad!.clone());
        foreach (var p in new[] { x, weight, bias })
        {
            p.grad!.zero_();
        }

        var expected = nn.functional.linear(x.narrow(1, 0, steps), weight, bias);
        (expected * valid * upstream).sum().backward();

        (projected * valid).allclose(expected * valid, rtol: 0, atol: 1e-12).Should().BeTrue();
        gx.allclose(x.grad!, rtol: 0, atol: 1e-12).Should().BeTrue();
        gw.allclose(weight.grad!, rtol: 0, atol: 1e-12).Should().BeTrue();
        gb.allclose(bias.grad!, rtol: 0, atol: 1e-12).Should().BeTrue();
        gx.narrow(1, 0, steps).mul(1 - valid).abs().max().item<double>().Should().Be(0, "padding gets no gradient");
        gw.abs().sum().item<double>().Should().BeGreaterThan(0);
    }
}
