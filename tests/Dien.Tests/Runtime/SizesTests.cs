using Dien.Runtime;
using FluentAssertions;
using TorchSharp;
using Xunit;

namespace Dien.Tests.Runtime;

/// <summary><see cref="Sizes"/> reads what <c>Tensor.shape</c> gives, one dimension at a time.</summary>
public sealed class SizesTests
{
    [Theory]
    [InlineData(new long[0])]
    [InlineData(new long[] { 0 })]
    [InlineData(new long[] { 5 })]
    [InlineData(new long[] { 2, 0, 3 })]
    [InlineData(new long[] { 4, 3, 2, 1 })]
    public void Of_and_AllButLast_give_the_shape(long[] shape)
    {
        using var t = torch.zeros(shape);
        Sizes.Of(t).Should().Equal(t.shape);
        if (shape.Length > 0)
        {
            Sizes.AllButLast(t).Should().Equal(t.shape[..^1]);
        }
    }

    [Fact]
    public void Same_compares_rank_and_every_size()
    {
        using var a = torch.zeros(2, 3);
        using var b = torch.ones(2, 3);
        using var transposed = torch.zeros(3, 2);
        using var flat = torch.zeros(6);
        using var deeper = torch.zeros(2, 3, 1);
        Sizes.Same(a, b).Should().BeTrue();
        Sizes.Same(a, transposed).Should().BeFalse();
        Sizes.Same(a, flat).Should().BeFalse();
        Sizes.Same(a, deeper).Should().BeFalse();
    }
}
