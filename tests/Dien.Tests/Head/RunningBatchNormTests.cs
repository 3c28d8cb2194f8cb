using Dien.Head;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Head;

/// <summary>The head's BatchNorm computes what TorchSharp's BatchNorm1d computes, state included.</summary>
[Collection("Sequential")]
public sealed class RunningBatchNormTests
{
    private static double[] Values(Tensor t) => t.detach().to_type(ScalarType.Float64).reshape(-1).data<double>().ToArray();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MatchesTorchSharpsBatchNorm1dInTrainingAndEvaluation(bool affine)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var ours = new RunningBatchNorm(5, eps: 1e-3, momentum: 0.2, affine: affine);
        using var theirs = nn.BatchNorm1d(5, eps: 1e-3, momentum: 0.2, affine: affine);
        if (affine)
        {
            using var noGrad = no_grad();
            var scale = randn(5);
            var shift = randn(5);
            ours.named_parameters().Single(p => p.name == "weight").parameter.copy_(scale);
            ours.named_parameters().Single(p => p.name == "bias").parameter.copy_(shift);
            theirs.weight!.copy_(scale);
            theirs.bias!.copy_(shift);
        }

        ours.state_dict().Keys.Should().BeEquivalentTo(theirs.state_dict().Keys);
        for (int step = 0; step < 3; step++)
        {
            var x = (randn(8, 5) * 3) + 1;
            var a = x.clone().requires_grad_();
            var b = x.clone().requires_grad_();
            var ya = ours.call(a);
            var yb = theirs.call(b);
            Values(ya).Should().Equal(Values(yb), (p, q) => Math.Abs(p - q) < 1e-5);
            (ya * ya).sum().backward();
            (yb * yb).sum().backward();
            Values(a.grad!).Should().Equal(Values(b.grad!), (p, q) => Math.Abs(p - q) < 1e-4);
        }

        foreach (var (name, tensor) in theirs.state_dict())
        {
            Values(ours.state_dict()[name]).Should().Equal(Values(tensor), (p, q) => Math.Abs(p - q) < 1e-5, name);
        }

        ours.state_dict()["num_batches_tracked"].item<long>().Should().Be(3);
        ours.eval();
        theirs.eval();
        var test = randn(4, 5);
        Values(ours.call(test)).Should().Equal(Values(theirs.call(test)), (p, q) => Math.Abs(p - q) < 1e-5);
        ours.state_dict()["num_batches_tracked"].item<long>().Should().Be(3, "evaluation does not count batches");
    }
}
