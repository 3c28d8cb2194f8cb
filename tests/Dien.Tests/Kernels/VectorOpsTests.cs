using System.Numerics;
using System.Runtime.Intrinsics;
using Dien.Kernels.Primitives;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Kernels;

public sealed class VectorOpsTests
{
    /// <summary>
    /// Whether the library's <see cref="Vector{T}"/> multiply-add is fused, as 512-bit registers' always is (in software
    /// where the hardware lacks them): x64 without FMA (or run with DOTNET_EnableAVX2=0), and every net8.0 build, round
    /// twice in the narrow registers, so a product or multiply-add there cannot match the wide registers' bits.
    /// </summary>
#if NET9_0_OR_GREATER
    internal static bool NarrowRegistersFuse => System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported;
#else
    internal static bool NarrowRegistersFuse => false; // net8.0 builds of the library multiply and add in two roundings
#endif

    [Fact]
    public void LayoutsPadToTheWidestRegistersTheProductsRun()
    {
        // .ci/run runs the numerical tests a second time with AVX-512 switched off and DIEN_EXPECT_PAD_LANES=8, so that
        // a host with AVX-512 tests the layout of hosts without it too: this checks that the switch took.
        string? expected = Environment.GetEnvironmentVariable("DIEN_EXPECT_PAD_LANES");
#if NET9_0_OR_GREATER
        int widest = Vector512.IsHardwareAccelerated ? Math.Max(Vector512<float>.Count, Vector<float>.Count) : Vector<float>.Count;
#else
        int widest = Vector<float>.Count; // net8.0 builds of the library run Vector<T> only
#endif
        VectorOps<float>.PadWidth.Should().Be(expected is null ? widest : int.Parse(expected, System.Globalization.CultureInfo.InvariantCulture));
        VectorOps<float>.Pad(36).Should().Be((36 + VectorOps<float>.PadWidth - 1) / VectorOps<float>.PadWidth * VectorOps<float>.PadWidth);
    }

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
#if NET9_0_OR_GREATER
        float[] expected = [0f, 0f, float.PositiveInfinity, float.PositiveInfinity, 0f, float.PositiveInfinity, float.NaN];
#else
        float[] expected = xs.Select(MathF.Exp).ToArray(); // net8.0 builds take the exponential lane by lane (no ExpSingle)
#endif
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

    [Fact]
    public unsafe void SigmoidAndTanhGiveTheNarrowRegistersBitsAtEveryWidth()
    {
        // 4,096 values in whole 512-bit registers where they run, then one narrow register's remainder; specials included.
        var random = new Random(5);
        float[] xs = Enumerable.Range(0, 4096 + Vector<float>.Count - 8).Select(_ => (float)((random.NextDouble() * 200) - 100))
            .Concat([0f, -0f, 1000f, -1000f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 44.2f]).ToArray();
        float[] sigmoid = (float[])xs.Clone(), tanh = (float[])xs.Clone();
        fixed (float* s = sigmoid)
        fixed (float* t = tanh)
        {
            VectorOps<float>.SigmoidInPlace(s, xs.Length);
            VectorOps<float>.TanhInPlace(t, xs.Length);
        }

        var one = Vector<float>.One;
        var two = one + one;
        for (int i = 0; i < xs.Length; i++)
        {
            var x = new Vector<float>(xs[i]);
            float narrowSigmoid = (one / (one + VectorOps<float>.Exp(-x)))[0];
            float narrowTanh = (one - (two / (VectorOps<float>.Exp(two * x) + one)))[0];
            BitConverter.SingleToInt32Bits(sigmoid[i]).Should().Be(BitConverter.SingleToInt32Bits(narrowSigmoid), $"sigmoid({xs[i]}) at index {i}");
            BitConverter.SingleToInt32Bits(tanh[i]).Should().Be(BitConverter.SingleToInt32Bits(narrowTanh), $"tanh({xs[i]}) at index {i}");
        }
    }

    [Fact]
    public unsafe void LaneMultiplyAddsAreFusedAndGiveTheSameBitsAtEveryWidth()
    {
        int n = 3 * Vector512<float>.Count; // whole registers at both widths
        var random = new Random(6);
        float[] a = Draw(random, n), b = Draw(random, n), c = Draw(random, n);
        const float s = 0.731f;
        float[][] results = [new float[n], new float[n], new float[n], new float[n], new float[n], new float[n]];
        fixed (float* pa = a, pb = b, pc = c, r0 = results[0], r1 = results[1], r2 = results[2], r3 = results[3], r4 = results[4], r5 = results[5])
        {
            VectorOps<float>.MulAdd(pa, pb, pc, r0, n);
            VectorOps<float>.MulAdd<NarrowVectors<float>, Vector<float>>(pa, pb, pc, r1, n);
#if NET9_0_OR_GREATER
            VectorOps<float>.MulAdd<WideVectors<float>, Vector512<float>>(pa, pb, pc, r2, n);
#else
            VectorOps<float>.MulAdd<NarrowVectors<float>, Vector<float>>(pa, pb, pc, r2, n); // net8.0 builds have no wide registers
#endif
            VectorOps<float>.MulAdd(pa, s, pc, r3, n);
            VectorOps<float>.MulAdd<NarrowVectors<float>, Vector<float>>(pa, s, pc, r4, n);
#if NET9_0_OR_GREATER
            VectorOps<float>.MulAdd<WideVectors<float>, Vector512<float>>(pa, s, pc, r5, n);
#else
            VectorOps<float>.MulAdd<NarrowVectors<float>, Vector<float>>(pa, s, pc, r5, n);
#endif
        }

        results[1].Should().Equal(results[0], "the narrow registers are the fallback");
        results[4].Should().Equal(results[3], "the narrow registers are the fallback");
        if (!NarrowRegistersFuse)
        {
            // No fused multiply-add in the narrow registers: a product, then a sum, each rounded.
            for (int i = 0; i < n; i++)
            {
                results[0][i].Should().Be((a[i] * b[i]) + c[i], $"lane {i} of a * b + c");
                results[3][i].Should().Be((a[i] * s) + c[i], $"lane {i} of a * s + c");
            }

            return;
        }

        results[2].Should().Equal(results[0], "a * b + c lane by lane is one rounding at any width");
        results[5].Should().Equal(results[3], "a * s + c lane by lane is one rounding at any width");
        for (int i = 0; i < n; i++)
        {
            results[0][i].Should().Be(MathF.FusedMultiplyAdd(a[i], b[i], c[i]), $"lane {i} of a * b + c");
            results[3][i].Should().Be(MathF.FusedMultiplyAdd(a[i], s, c[i]), $"lane {i} of a * s + c");
        }
    }

    [Fact]
    public unsafe void TheSigmoidSlopeAndInPlaceSumsGiveTheNarrowRegistersBitsAtEveryWidth()
    {
        int n = 3 * Vector512<float>.Count; // whole registers at both widths
        var random = new Random(7);
        float[] d = Draw(random, n), a = d.Select(_ => (float)random.NextDouble()).ToArray(), src = Draw(random, n + 3);
        float[] narrow = (float[])d.Clone(), wide = (float[])d.Clone(), machine = (float[])d.Clone();
        float[] sum = Draw(random, n + 3);
        float[] summed = (float[])sum.Clone();
        fixed (float* pa = a, pn = narrow, pw = wide, pm = machine, ps = src, pt = summed)
        {
            VectorOps<float>.ThroughSigmoid<NarrowVectors<float>, Vector<float>>(pn, pa, n);
#if NET9_0_OR_GREATER
            VectorOps<float>.ThroughSigmoid<WideVectors<float>, Vector512<float>>(pw, pa, n);
#else
            VectorOps<float>.ThroughSigmoid<NarrowVectors<float>, Vector<float>>(pw, pa, n); // net8.0 builds have no wide registers
#endif
            VectorOps<float>.ThroughSigmoid(pm, pa, n);
            VectorOps<float>.AddInPlace(pt, ps, n + 3); // whole registers, then a tail of 3
        }

        wide.Should().Equal(narrow, "d * a * (1 - a) is lane-by-lane work");
        machine.Should().Equal(narrow, "d * a * (1 - a) is lane-by-lane work");
        for (int i = 0; i < n; i++)
        {
            narrow[i].Should().Be(d[i] * a[i] * (1 - a[i]), $"lane {i}: d * a * (1 - a), in that order");
        }

        for (int i = 0; i < n + 3; i++)
        {
            summed[i].Should().Be(sum[i] + src[i], $"element {i} of the in-place sum");
        }
    }

    public static TheoryData<int, int, int> ProductShapes => new()
    {
        // rows (6-, 4- and 1-row blocks), depth, width (whole narrow vectors: with and without a wide remainder)
        { 1, 1, 8 }, { 3, 2, 16 }, { 4, 7, 24 }, { 6, 36, 104 }, { 7, 36, 112 }, { 13, 5, 40 }, { 17, 36, 48 },
    };

    [Theory]
    [MemberData(nameof(ProductShapes))]
    public unsafe void MultiplyAccumulateAddsTheProductAtEveryRegisterWidthWithTheSameSums(int rows, int depth, int width)
    {
        // a is read transposed (depth-major), as the kernels' backward products read it; y has a wider stride than width.
        var random = new Random(rows * 100 + depth);
        int yStride = width + Vector<float>.Count;
        float[] a = Draw(random, rows * depth), m = Draw(random, depth * width), y0 = Draw(random, rows * yStride);
        float[] machine = (float[])y0.Clone(), narrow = (float[])y0.Clone(), wide = (float[])y0.Clone();
        int wideColumns = width / Vector512<float>.Count * Vector512<float>.Count;
        fixed (float* pa = a, pm = m, py = machine, pn = narrow, pw = wide)
        {
            VectorOps<float>.MultiplyAccumulate(pa, 1, rows, rows, depth, pm, width, py, yStride);
            VectorOps<float>.MultiplyAccumulate<NarrowVectors<float>, Vector<float>>(pa, 1, rows, rows, depth, pm, width, pn, yStride, 0, width);
#if NET9_0_OR_GREATER
            VectorOps<float>.MultiplyAccumulate<WideVectors<float>, Vector512<float>>(pa, 1, rows, rows, depth, pm, width, pw, yStride, 0, wideColumns);
#else
            VectorOps<float>.MultiplyAccumulate<NarrowVectors<float>, Vector<float>>(pa, 1, rows, rows, depth, pm, width, pw, yStride, 0, wideColumns); // net8.0: no wide registers
#endif
            VectorOps<float>.MultiplyAccumulate<NarrowVectors<float>, Vector<float>>(pa, 1, rows, rows, depth, pm, width, pw, yStride, wideColumns, width);
        }

        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < yStride; j++)
            {
                double expected = y0[(i * yStride) + j];
                if (j < width)
                {
                    for (int k = 0; k < depth; k++)
                    {
                        expected += (double)a[(k * rows) + i] * m[(k * width) + j];
                    }
                }

                machine[(i * yStride) + j].Should().BeApproximately((float)expected, 1e-4f, $"y[{i}, {j}]");
                if (NarrowRegistersFuse)
                {
                    wide[(i * yStride) + j].Should().Be(narrow[(i * yStride) + j], $"both widths should sum y[{i}, {j}] in one order");
                }
            }
        }
    }

    [Theory]
    [InlineData(1, 8)]
    [InlineData(36, 120)]
    [InlineData(36, 144)]
    [InlineData(5, 40)]
    [InlineData(120, 48)]
    public unsafe void AccumulateRowsAddsTheVectorMatrixProductAtEveryRegisterWidth(int rows, int width)
    {
        var random = new Random(rows + width);
        float[] coeffs = Draw(random, rows), matrix = Draw(random, rows * width), acc0 = Draw(random, width);
        int wideColumns = width / Vector512<float>.Count * Vector512<float>.Count;
        float[] machine = (float[])acc0.Clone(), narrow = (float[])acc0.Clone(), wide = (float[])acc0.Clone();
        fixed (float* c = coeffs, m = matrix, py = machine, pn = narrow, pw = wide)
        {
            VectorOps<float>.AccumulateRows(c, rows, m, width, py);
            VectorOps<float>.AccumulateRows<NarrowVectors<float>, Vector<float>>(c, rows, m, width, pn, 0, width);
#if NET9_0_OR_GREATER
            VectorOps<float>.AccumulateRows<WideVectors<float>, Vector512<float>>(c, rows, m, width, pw, 0, wideColumns);
#else
            VectorOps<float>.AccumulateRows<NarrowVectors<float>, Vector<float>>(c, rows, m, width, pw, 0, wideColumns); // net8.0: no wide registers
#endif
            VectorOps<float>.AccumulateRows<NarrowVectors<float>, Vector<float>>(c, rows, m, width, pw, wideColumns, width);
        }

        for (int j = 0; j < width; j++)
        {
            double expected = acc0[j];
            for (int i = 0; i < rows; i++)
            {
                expected += (double)coeffs[i] * matrix[(i * width) + j];
            }

            foreach (var (name, result) in new[] { ("the machine's width", machine), ("narrow", narrow), ("wide", wide) })
            {
                result[j].Should().BeApproximately((float)expected, 1e-4f, $"{name}: acc[{j}]");
            }
        }
    }

    [Theory]
    [InlineData(8)]
    [InlineData(16)]
    [InlineData(24)]
    [InlineData(112)]
    public unsafe void DotSumsTheProductsOfEveryLane(int n)
    {
        var random = new Random(n);
        float[] a = Draw(random, n), b = Draw(random, n);
        double expected = 0;
        for (int k = 0; k < n; k++)
        {
            expected += (double)a[k] * b[k];
        }

        fixed (float* pa = a, pb = b)
        {
            VectorOps<float>.Dot(pa, pb, n).Should().BeApproximately((float)expected, 1e-5f);
        }
    }

    [Fact]
    public unsafe void MultiplyAccumulateColumnsWritesTheFirstColumnsAsTheFullProductDoesAndLeavesTheRest()
    {
        // 7 rows (a block of 6 and one row), m 64 columns wide, of which the first 48 (3 wide or 6 narrow registers) are written.
        const int rows = 7, depth = 10, width = 64, columns = 48;
        var random = new Random(11);
        float[] a = Draw(random, rows * depth), m = Draw(random, depth * width), y0 = Draw(random, rows * width);
        float[] full = (float[])y0.Clone(), part = (float[])y0.Clone();
        fixed (float* pa = a, pm = m, pf = full, pp = part)
        {
            VectorOps<float>.MultiplyAccumulate(pa, depth, 1, rows, depth, pm, width, pf, width);
            VectorOps<float>.MultiplyAccumulateColumns(pa, depth, 1, rows, depth, pm, width, pp, width, columns);
        }

        for (int i = 0; i < rows * width; i++)
        {
            part[i].Should().Be(i % width < columns ? full[i] : y0[i], $"y[{i / width}, {i % width}]");
        }
    }

    private static float[] Draw(Random random, int n) => Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
}
