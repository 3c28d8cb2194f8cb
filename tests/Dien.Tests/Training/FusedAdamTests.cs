using Dien.Training;
using FluentAssertions;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Training;

public class FusedAdamTests
{
    /// <summary>Two identical parameter sets (sizes that are and are not whole vectors) and gradients per step.</summary>
    private static (Parameter[] A, Parameter[] B) Twins(ScalarType dtype)
    {
        torch.manual_seed(7);
        var shapes = new[] { new long[] { 37, 5 }, new long[] { 3 }, new long[] { 64 } };
        var a = shapes.Select(s => new Parameter(randn(s, dtype: dtype))).ToArray();
        var b = a.Select(p => new Parameter(p.detach().clone())).ToArray();
        return (a, b);
    }

    private static void SetGradients(Parameter[] a, Parameter[] b, int step)
    {
        torch.manual_seed(100 + step);
        for (int i = 0; i < a.Length; i++)
        {
            var g = randn(a[i].shape, dtype: a[i].dtype) * (i + 1);
            a[i].grad = g.clone();
            b[i].grad = g.clone();
        }
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.01)]
    public void MatchesTorchSharpAdamStepByStepIncludingALearningRateChange(double weightDecay)
    {
        var (a, b) = Twins(ScalarType.Float32);
        using var reference = optim.Adam(a, 1e-2, weight_decay: weightDecay);
        using var fused = new Dien.Kernels.Optim.Adam(b, 1e-2, weightDecay);
        for (int step = 0; step < 6; step++)
        {
            if (step == 3)
            {
                // The trainer's per-epoch decay writes the groups' learning rate.
                foreach (var g in reference.ParamGroups) g.LearningRate = 3e-3;
                foreach (var g in fused.ParamGroups) g.LearningRate = 3e-3;
            }

            SetGradients(a, b, step);
            reference.step();
            fused.step();
        }

        for (int i = 0; i < a.Length; i++)
        {
            var expected = a[i].detach().data<float>().ToArray();
            var actual = b[i].detach().data<float>().ToArray();
            // Moved by ~6 steps of ~1e-2: a mistake in any term shows far above float rounding.
            actual.Should().Equal(expected, (x, y) => Math.Abs(x - y) <= 2e-6 + (1e-5 * Math.Abs(y)), $"parameter {i}");
            actual.Should().NotEqual(Twins(ScalarType.Float32).B[i].detach().data<float>().ToArray(), "the step must move the parameter");
        }
    }

    [Fact]
    public void ItsStateIsAdamsStateSoCheckpointsReadEitherWay()
    {
        var (a, b) = Twins(ScalarType.Float32);
        using var fused = new Dien.Kernels.Optim.Adam(a, 1e-2);
        for (int step = 0; step < 3; step++)
        {
            SetGradients(a, b, step);
            fused.step();
        }

        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            fused.save_state_dict(writer);
        }

        stream.Position = 0;
        using var plain = optim.Adam(b, 1e-2);
        using (var reader = new BinaryReader(stream))
        {
            plain.load_state_dict(reader);
        }

        // Same moments and step count: one more identical step from each leaves identical parameters.
        foreach (var (p, q) in a.Zip(b))
        {
            using (no_grad())
            {
                q.copy_(p);
            }
        }

        SetGradients(a, b, 3);
        fused.step();
        plain.step();
        for (int i = 0; i < a.Length; i++)
        {
            b[i].detach().data<float>().ToArray().Should().Equal(a[i].detach().data<float>().ToArray(),
                (x, y) => Math.Abs(x - y) <= 1e-6 + (1e-5 * Math.Abs(y)));
        }
    }

    [Fact]
    public void Float64ParametersTakeTorchSharpsOwnStep()
    {
        var (a, b) = Twins(ScalarType.Float64);
        using var reference = optim.Adam(a, 1e-2);
        using var fused = new Dien.Kernels.Optim.Adam(b, 1e-2);
        for (int step = 0; step < 3; step++)
        {
            SetGradients(a, b, step);
            reference.step();
            fused.step();
        }

        for (int i = 0; i < a.Length; i++)
        {
            b[i].detach().data<double>().ToArray().Should().Equal(a[i].detach().data<double>().ToArray(), "the fallback is the same code");
        }
    }

    [Fact]
    public void ZeroGradLeavesNoGradientAndTrainsAsZeroFilledGradientsDoToTheBit()
    {
        var (a, b) = Twins(ScalarType.Float32);
        using var zeroFilled = new Dien.Kernels.Optim.Adam(a, 1e-2);
        using var none = new Dien.Kernels.Optim.Adam(b, 1e-2);
        torch.manual_seed(3);
        var x = randn(new long[] { 4, 37 });
        for (int step = 0; step < 4; step++)
        {
            // The fill zero_grad did before: each gradient kept and set to zeros, the backward adding into it.
            foreach (var p in a)
            {
                p.grad?.zero_();
            }

            none.zero_grad();
            if (step > 0)
            {
                a.Should().OnlyContain(p => !ReferenceEquals(p.grad, null));
                b.Should().OnlyContain(p => ReferenceEquals(p.grad, null), "zero_grad sets the gradients to none");
            }

            Loss(a, x).backward();
            Loss(b, x).backward();
            for (int i = 0; i < a.Length; i++)
            {
                // 0 + g is g: the gradient a backward hands over is the one it would have added to zeros.
                b[i].grad!.data<float>().ToArray().Should().Equal(a[i].grad!.data<float>().ToArray(), $"parameter {i}, step {step}");
            }

            zeroFilled.step();
            none.step();
        }

        for (int i = 0; i < a.Length; i++)
        {
            b[i].detach().data<float>().ToArray().Should().Equal(a[i].detach().data<float>().ToArray(), $"parameter {i} after 4 steps");
            b[i].detach().data<float>().ToArray().Should().NotEqual(Twins(ScalarType.Float32).B[i].detach().data<float>().ToArray(), "the steps must move the parameter");
        }
    }

    /// <summary>A loss over the three parameters, so that a backward gives each a gradient that changes with the step.</summary>
    private static Tensor Loss(Parameter[] p, Tensor x)
        => (x.matmul(p[0]).tanh().sum() * p[1].sum()).square() + p[2].square().sum();
}
