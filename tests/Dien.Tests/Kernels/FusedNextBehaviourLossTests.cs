using Dien.Auxiliary;
using Dien.Kernels.NextBehaviour;
using Dien.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static Dien.Tests.TestKit;
using static TorchSharp.torch;

namespace Dien.Tests.Kernels;

/// <summary>The fused next-behaviour loss against the libtorch composition of the same module: value and every gradient.</summary>
[Collection("Sequential")]
public sealed class FusedNextBehaviourLossTests
{
    public static TheoryData<int[]> Scorers() => new() { new[] { 100, 50 }, new[] { 7 }, Array.Empty<int>(), new[] { 9, 3, 5 } };

    [Theory]
    [MemberData(nameof(Scorers))]
    public void Float64MatchesTheCompositionValueAndGradients(int[] hidden)
    {
        // Lengths 0 and 1 (no pair), a full row, and enough rows for several tiles with a remainder.
        int[] lengths = [9, 0, 1, 2, 5, 9, 3, 7, 8, 4, 6, 9, 1, 2, 9, 5];
        Compare(hidden, lengths, steps: 9, hiddenSize: 5, behaviourSize: 6, ScalarType.Float64, seed: 3, tolerance: 1e-11);
    }

    [Fact]
    public void Float32MatchesTheCompositionOnTheBenchShapeWithTwoWorkers()
    {
        // W's shape: 36-wide states and behaviours, scorer 100-50, enough pairs (> 2 x 256) for two workers.
        var random = new Random(5);
        int[] lengths = Enumerable.Range(0, 64).Select(_ => random.Next(0, 31)).ToArray();
        Compare([100, 50], lengths, steps: 30, hiddenSize: 36, behaviourSize: 36, ScalarType.Float32, seed: 8, tolerance: 2e-5);
    }

    [Fact]
    public void RepeatedCallsGiveBitwiseEqualGradientsWhoeverRunsEachChunk()
    {
        // Chunks go to whichever worker is free; per-chunk accumulators summed in chunk order keep the sums fixed.
        using var scope = NewDisposeScope();
        torch.manual_seed(21);
        using var loss = new NextBehaviourAuxiliaryLoss(36, 36, AuxiliaryScorer.Mlp, new List<int> { 100, 50 });
        var random = new Random(2);
        var (states, behaviours, negatives, mask) = Inputs(Enumerable.Range(0, 128).Select(_ => random.Next(20, 29)).ToArray(), 28, 36, 36, ScalarType.Float32);
        var (value, grads) = Run(loss, states, behaviours, negatives, mask);
        for (int i = 0; i < 5; i++)
        {
            var (again, againGrads) = Run(loss, states, behaviours, negatives, mask);
            again.Should().Be(value);
            againGrads.Zip(grads).Should().OnlyContain(p => p.First.eq(p.Second).all().item<bool>());
        }
    }

    [Fact]
    public void StartedOnHelpersItGivesBitwiseTheValueAndGradientsOfARunInPlace()
    {
        // Begin runs the same chunks on a helper while the caller works; Finish must hand over the same numbers.
        using var scope = NewDisposeScope();
        int threads = torch.get_num_threads();
        torch.manual_seed(23);
        var random = new Random(4);
        int[] lengths = Enumerable.Range(0, 96).Select(_ => random.Next(0, 21)).ToArray();
        var (states, behaviours, negatives, mask) = Inputs(lengths, 20, 36, 36, ScalarType.Float32);
        var weights = new List<Tensor> { randn(100, 72) * 0.1, randn(50, 100) * 0.1, randn(1, 50) * 0.1 };
        var biases = new List<Tensor> { randn(100) * 0.1, randn(50) * 0.1, randn(1) * 0.1 };
        try
        {
            torch.set_num_threads(2);
            var inPlace = new[] { states, behaviours, negatives }.Select(t => t.clone().requires_grad_()).ToArray();
            var expected = FusedNextBehaviourLoss.Compute(inPlace[0], inPlace[1], inPlace[2], mask, weights, biases);
            expected.backward();

            long starts = Dien.Kernels.Primitives.KernelWorkers.BackgroundStarts;
            var started = new[] { states, behaviours, negatives }.Select(t => t.clone().requires_grad_()).ToArray();
            var prepared = FusedNextBehaviourLoss.Begin(started[0], started[1], started[2], mask, weights, biases);
            using (states.matmul(states.transpose(1, 2)))
            {
                // libtorch work on the caller while the helper runs the kernel.
            }

            var value = prepared.Finish();
            value.backward();

            if (Environment.ProcessorCount >= 2)
            {
                Dien.Kernels.Primitives.KernelWorkers.BackgroundStarts.Should().BeGreaterThan(starts, "two workers start the kernel on a helper");
            }

            torch.get_num_threads().Should().Be(2, "Finish gives the helper's thread back");
            value.item<float>().Should().Be(expected.item<float>());
            for (int i = 0; i < 3; i++)
            {
                started[i].grad!.eq(inPlace[i].grad!).all().item<bool>().Should().BeTrue($"input {i}'s gradient");
            }
        }
        finally
        {
            torch.set_num_threads(threads);
        }
    }

    [Fact]
    public void ValueWithoutGradientsEqualsTheValueWithThem()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(12);
        using var loss = new NextBehaviourAuxiliaryLoss(4, 3, AuxiliaryScorer.Mlp, new List<int> { 6, 5 });
        loss.to(ScalarType.Float64);
        var (states, behaviours, negatives, mask) = Inputs([3, 5, 0, 4], 5, 4, 3, ScalarType.Float64);
        double withGraph = loss.call(states.requires_grad_(), behaviours, negatives, mask).item<double>();
        double inference;
        using (torch.no_grad())
        {
            var value = loss.call(states, behaviours, negatives, mask);
            value.requires_grad.Should().BeFalse();
            inference = value.item<double>();
        }

        inference.Should().Be(withGraph);
    }

    /// <summary>A float64 loss with a 6-wide MLP scorer over H = 4, E = 3, and inputs of 4 rows whose states need gradients.</summary>
    private static (NextBehaviourAuxiliaryLoss Loss, Tensor States, Tensor Behaviours, Tensor Negatives, Tensor Mask) SmallMlpLoss(int seed)
    {
        torch.manual_seed(seed);
        var loss = new NextBehaviourAuxiliaryLoss(4, 3, AuxiliaryScorer.Mlp, new List<int> { 6 });
        loss.to(ScalarType.Float64);
        var (states, behaviours, negatives, mask) = Inputs([3, 5, 2, 4], 5, 4, 3, ScalarType.Float64);
        return (loss, states.requires_grad_(), behaviours, negatives, mask);
    }

    [Fact]
    public void GradientsScaleWithTheIncomingGradientAndSurviveARetainedGraph()
    {
        using var scope = NewDisposeScope();
        var (loss, states, behaviours, negatives, mask) = SmallMlpLoss(seed: 13);
        using var owned = loss;
        var value = loss.call(states, behaviours, negatives, mask);

        (value * 0.5).backward(retain_graph: true);
        var half = states.grad!.clone();
        var weightHalf = loss.parameters().First().grad!.clone();
        states.grad!.zero_();
        loss.zero_grad();
        (value * 2.0).backward();

        states.grad!.allclose(half * 4, 1e-12, 1e-14).Should().BeTrue();
        loss.parameters().First().grad!.allclose(weightHalf * 4, 1e-12, 1e-14).Should().BeTrue();
        half.abs().sum().item<double>().Should().BeGreaterThan(0);
    }

    [Fact]
    public void AnIncomingGradientOfOneHandsBackTheSavedGradientsAndARetainedGraphStillFindsThemUnchanged()
    {
        // At grad_output 1 the node returns its saved gradients without a copy. The states also get a second path's
        // gradient and the weights accumulate over two passes: were either added into the saved tensors in place, the
        // second pass through the retained graph would read that sum.
        using var scope = NewDisposeScope();
        var (loss, states, behaviours, negatives, mask) = SmallMlpLoss(seed: 19);
        using var owned = loss;
        var weight = loss.parameters().First();

        (loss.call(states, behaviours, negatives, mask) * 2.0).backward();
        var expected = (states.grad! / 2) + (2 * states.detach());
        var weightExpected = weight.grad! / 2;
        states.grad!.zero_();
        loss.zero_grad();

        var total = loss.call(states, behaviours, negatives, mask) + states.square().sum();
        total.backward(retain_graph: true);
        states.grad!.allclose(expected, 1e-12, 1e-14).Should().BeTrue();
        weight.grad!.allclose(weightExpected, 1e-12, 1e-14).Should().BeTrue();
        total.backward();

        states.grad!.allclose(expected * 2, 1e-12, 1e-14).Should().BeTrue();
        weight.grad!.allclose(weightExpected * 2, 1e-12, 1e-14).Should().BeTrue();
        weightExpected.abs().sum().item<double>().Should().BeGreaterThan(0);
    }

    [Fact]
    public void BadShapesAreRejectedWithTheirName()
    {
        using var scope = NewDisposeScope();
        var (states, behaviours, negatives, mask) = Inputs([2, 3], 3, 2, 2, ScalarType.Float32);
        var weights = new List<Tensor> { randn(4, 4), randn(2, 4) };
        var biases = new List<Tensor> { randn(4), randn(2) };
        FluentActions.Invoking(() => FusedNextBehaviourLoss.Compute(states, behaviours, negatives, mask, weights, biases))
            .Should().Throw<ArgumentException>().WithMessage("*last layer has 2 outputs*");
        weights[1] = randn(1, 5);
        FluentActions.Invoking(() => FusedNextBehaviourLoss.Compute(states, behaviours, negatives, mask, weights, biases))
            .Should().Throw<ArgumentException>().WithMessage("*layer 1*");
        FluentActions.Invoking(() => FusedNextBehaviourLoss.Compute(states.to(ScalarType.Float64), behaviours, negatives, mask, weights, biases))
            .Should().Throw<ArgumentException>().WithMessage("*behaviours is Float32*");
    }

    [Fact]
    public void PackedBehavioursGiveBitwiseTheValueAndGradientsOfPaddedOnes()
    {
        // The kernel reads e_{t+1} and e'_{t+1} at their packed rows instead of b * T + t + 1: the same arithmetic.
        using var scope = NewDisposeScope();
        torch.manual_seed(17);
        int[] lengths = [6, 0, 1, 2, 5, 6, 3];
        var (states, behaviours, negatives, mask) = Inputs(lengths, 6, 5, 4, ScalarType.Float64);
        var weights = new List<Tensor> { randn(7, 9, ScalarType.Float64), randn(1, 7, ScalarType.Float64) };
        var biases = new List<Tensor> { randn(7, ScalarType.Float64), randn(1, ScalarType.Float64) };
        var positions = tensor(Dien.Data.Batching.ValidPositions.Positions(lengths, 6));
        Tensor Pack(Tensor padded) => padded.reshape(-1, 4).index_select(0, positions);

        var padded = new[] { states, behaviours, negatives }.Select(t => t.clone().requires_grad_()).ToArray();
        var paddedLoss = FusedNextBehaviourLoss.Compute(padded[0], padded[1], padded[2], mask, weights, biases);
        paddedLoss.backward();
        var packed = new[] { states.clone(), Pack(behaviours), Pack(negatives) }.Select(t => t.requires_grad_()).ToArray();
        var packedLoss = FusedNextBehaviourLoss.Compute(packed[0], packed[1], packed[2], mask, weights, biases);
        packedLoss.backward();

        packedLoss.item<double>().Should().Be(paddedLoss.item<double>());
        packed[0].grad!.eq(padded[0].grad!).all().item<bool>().Should().BeTrue("the states' gradient");
        packed[1].grad!.eq(Pack(padded[1].grad!)).all().item<bool>().Should().BeTrue("the behaviours' gradient at the valid positions");
        packed[2].grad!.eq(Pack(padded[2].grad!)).all().item<bool>().Should().BeTrue("the negatives' gradient at the valid positions");
        padded[1].grad!.reshape(-1, 4).index_fill(0, positions, 0.0).abs().max().item<double>().Should().Be(0, "padding gets no gradient");
        packed[1].grad!.abs().sum().item<double>().Should().BeGreaterThan(0);

        var short1 = Pack(behaviours).narrow(0, 0, positions.shape[0] - 1);
        FluentActions.Invoking(() => FusedNextBehaviourLoss.Compute(states, short1, short1, mask, weights, biases))
            .Should().Throw<ArgumentException>().WithMessage("*22 rows but the mask has 23 valid positions*");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EveryRowOfTheInputGradientsIsWrittenWhateverTheBuffersHeld(bool packed)
    {
        // The kernel writes zeros where no pair is (padding, each row's last valid position, rows of length 0 or 1),
        // each chunk between its pairs: buffers full of NaN must come out as zero-filled ones do, bit for bit, over
        // 8 chunks on 2 workers, with pairless rows at the start, inside and at the end.
        using var scope = NewDisposeScope();
        torch.manual_seed(29);
        var random = new Random(4);
        const int steps = 12, hidden = 8, behaviour = 6;
        int[] lengths = [0, 1, .. Enumerable.Range(0, 200).Select(i => i % 37 == 0 ? 1 : random.Next(0, steps + 1)), 1, 0];
        var (states, behaviours, negatives, mask) = Inputs(lengths, steps, hidden, behaviour, ScalarType.Float64);
        if (packed)
        {
            var positions = tensor(Dien.Data.Batching.ValidPositions.Positions(lengths, steps));
            states = states.reshape(-1, hidden).index_select(0, positions);
            behaviours = behaviours.reshape(-1, behaviour).index_select(0, positions);
            negatives = negatives.reshape(-1, behaviour).index_select(0, positions);
        }

        var weights = new List<Tensor> { randn(7, hidden + behaviour, ScalarType.Float64), randn(1, 7, ScalarType.Float64) };
        var biases = new List<Tensor> { randn(7, ScalarType.Float64), randn(1, ScalarType.Float64) };
        Tensor[] Buffers(double fill) => [.. new[] { states, behaviours, negatives }.Select(t => full_like(t, fill)),
            .. weights.Zip(biases).SelectMany(l => new[] { full_like(l.First, fill), full_like(l.Second, fill) })];

        var cleared = Buffers(0);
        double expected = NextBehaviourLossFunction.Run(states, behaviours, negatives, mask, weights, biases, cleared, parallelism: 2);
        var garbage = Buffers(double.NaN);
        double value = NextBehaviourLossFunction.Run(states, behaviours, negatives, mask, weights, biases, garbage, parallelism: 2);

        value.Should().Be(expected);
        for (int i = 0; i < 3; i++)
        {
            garbage[i].isnan().any().item<bool>().Should().BeFalse($"input gradient {i} (states, behaviours, negatives) must have every row written");
            garbage[i].eq(cleared[i]).all().item<bool>().Should().BeTrue($"input gradient {i} must not depend on what its buffer held");
        }

        cleared[0].abs().sum().item<double>().Should().BeGreaterThan(0, "the states get a gradient");
    }

    private static void Compare(int[] hidden, int[] lengths, int steps, int hiddenSize, int behaviourSize, ScalarType dtype, int seed, double tolerance)
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(seed);
        using var fused = new NextBehaviourAuxiliaryLoss(hiddenSize, behaviourSize, AuxiliaryScorer.Mlp, hidden.ToList());
        using var reference = new NextBehaviourAuxiliaryLoss(hiddenSize, behaviourSize, AuxiliaryScorer.Mlp, hidden.ToList()) { UseFusedKernels = false };
        fused.to(dtype);
        reference.to(dtype);
        reference.load_state_dict(fused.state_dict());
        var (states, behaviours, negatives, mask) = Inputs(lengths, steps, hiddenSize, behaviourSize, dtype);

        var (value, grads) = Run(fused, states, behaviours, negatives, mask);
        var (expected, expectedGrads) = Run(reference, states, behaviours, negatives, mask);

        value.Should().BeApproximately(expected, tolerance * Math.Max(1, Math.Abs(expected)));
        grads.Length.Should().Be(expectedGrads.Length);
        for (int i = 0; i < grads.Length; i++)
        {
            double scale = Math.Max(1e-3, expectedGrads[i].abs().max().item<double>());
            double error = (grads[i] - expectedGrads[i]).abs().max().item<double>();
            error.Should().BeLessThanOrEqualTo(tolerance * scale, $"gradient {i} (inputs, then each layer's weight and bias) differs");
        }

        expectedGrads[0].abs().sum().item<double>().Should().BeGreaterThan(0, "the states must get a gradient");
    }

    private static (double Value, Tensor[] Grads) Run(NextBehaviourAuxiliaryLoss loss, Tensor states, Tensor behaviours, Tensor negatives, Tensor mask)
    {
        var inputs = new[] { states, behaviours, negatives }.Select(t => t.detach().clone().requires_grad_()).ToArray();
        loss.zero_grad();
        var value = loss.call(inputs[0], inputs[1], inputs[2], mask);
        value.backward();
        var grads = inputs.Select(t => t.grad!.to_type(ScalarType.Float64))
            .Concat(loss.parameters().Select(p => p.grad!.to_type(ScalarType.Float64)))
            .ToArray();
        return (value.to_type(ScalarType.Float64).item<double>(), grads);
    }

    private static (Tensor States, Tensor Behaviours, Tensor Negatives, Tensor Mask) Inputs(int[] lengths, int steps, int hiddenSize, int behaviourSize, ScalarType dtype)
        => (randn(lengths.Length, steps, hiddenSize, dtype), randn(lengths.Length, steps, behaviourSize, dtype),
            randn(lengths.Length, steps, behaviourSize, dtype), Mask(lengths, steps));
}
