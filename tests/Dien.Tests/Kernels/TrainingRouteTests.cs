using Dien.Kernels.Primitives;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Kernels;

/// <summary><see cref="TrainingRoute"/>: the training-only kernels take a call only in gradient mode, on CPU, in one float dtype, with something to differentiate.</summary>
public sealed class TrainingRouteTests
{
    [Fact]
    public void Takes_training_calls_in_one_float_dtype_only()
    {
        using var scope = NewDisposeScope();
        var leaf = randn(3, 2).requires_grad_();
        var plain = randn(3, 2);

        TrainingRoute.Takes(plain, leaf, null).Should().BeTrue("a tensor needs a gradient; a null one is skipped");
        TrainingRoute.Takes(plain, randn(2)).Should().BeFalse("nothing needs a gradient");
        TrainingRoute.Takes(leaf, randn(new long[] { 2 }, dtype: ScalarType.Float64)).Should().BeFalse("two dtypes");
        TrainingRoute.Takes(randn(new long[] { 2 }, dtype: ScalarType.Float16).requires_grad_()).Should().BeFalse("half precision has no kernel");
        using (no_grad())
        {
            TrainingRoute.Takes(leaf).Should().BeFalse("inference");
        }
    }
}
