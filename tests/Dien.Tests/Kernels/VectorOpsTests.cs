using System.Numerics;
using Dien.Kernels.Primitives;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Kernels;

public sealed class VectorOpsTests
{
    [Fact]
    public void FloatExponentialIsWithinAFewUlpsOverItsRange()
    {
        var random = new Random(3);
        var xs = Enumerable.Range(0, 20_000).Select(_ => (float)((random.NextDouble() * 175.6) - 87.3))
            .Concat([0f, -0f, 1f, -1f, 1e-8f, -1e-8f, 0.34657359f, -0.34657359f, 88.3f, -87.3f]).ToArray();
        double worst = 0;
        foreach (float x in xs)
        {
            float actual = VectorOps<float>.Exp(new Vector<float>(x))[0];
            double expected = Math.Exp(x);
            double ulp = MathF.BitIncrement((float)expected) - (float)expected;
            worst = Math.Max(worst, Math.Abs(actual - expected) / ulp);
        }

        worst.Should().BeLessThan(4, "the float exponential should be accurate to a few units in the last place");
    }

    [Fact]
    public void FloatExponentialSaturatesAndKeepsNaN()
    {
        float[] xs = [-1000f, -88f, 89f, 1000f, float.NegativeInfinity, float.PositiveInfinity, float.NaN];
        float[] expected = [0f, 0f, float.PositiveInfinity, float.PositiveInfinity, 0f, float.PositiveInfinity, float.NaN];
        for (int i = 0; i < xs.Length; i++)
        {
            float actual = VectorOps<float>.Exp(new Vector<float>(xs[i]))[0];
            if (float.IsNaN(expected[i]))
            {
                float.IsNaN(actual).Should().BeTrue($"exp({xs[i]}) should be NaN");
            }
            else
            {
                actual.Should().Be(expected[i], $"exp({xs[i]})");
            }
        }
    }

    [Fact]
    public unsafe void SigmoidAndTanhMatchTheirDefinitionsInFloat()
    {
        var random = new Random(4);
        float[] xs = Enumerable.Range(0, 4096).Select(_ => (float)((random.NextDouble() * 60) - 30)).ToArray();
        float[] sigmoid = (float[])xs.Clone(), tanh = (float[])xs.Clone();
        fixed (float* s = sigmoid)
        fixed (float* t = tanh)
        {
            VectorOps<float>.SigmoidInPlace(s, xs.Length);
            VectorOps<float>.TanhInPlace(t, xs.Length);
        }

        for (int i = 0; i < xs.Length; i++)
        {
            sigmoid[i].Should().BeApproximately((float)(1 / (1 + Math.Exp(-xs[i]))), 2e-7f);
            tanh[i].Should().BeApproximately((float)Math.Tanh(xs[i]), 4e-7f);
        }
    }
}
