using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests;

/// <summary>libtorch loads, computes, differentiates and optimizes on this machine.</summary>
[Collection("Sequential")]
public sealed class SmokeTests
{
    [Fact]
    public void GruForwardBackwardAndOptimizerStepRun()
    {
        torch.manual_seed(7);
        using var scope = NewDisposeScope();
        using var gru = nn.GRU(4, 3, batchFirst: true);
        var x = randn(2, 5, 4);
        var (y, h) = gru.call(x, null);
        y.shape.Should().Equal(2, 5, 3);
        h.shape.Should().Equal(1, 2, 3);

        var optimizer = optim.SGD(gru.parameters(), 0.1);
        var before = gru.parameters().Select(p => p.detach().clone()).ToList();
        var loss = y.pow(2).mean();
        loss.backward();
        gru.parameters().Should().OnlyContain(p => !ReferenceEquals(p.grad, null) && p.grad.abs().sum().item<float>() > 0);
        optimizer.step();

        var after = gru.parameters().ToList();
        after.Zip(before).Should().Contain(pair => !pair.First.allclose(pair.Second, 1e-7, 1e-7));
        float lossValue = loss.item<float>();
        float.IsFinite(lossValue).Should().BeTrue();
    }
}
