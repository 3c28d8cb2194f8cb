using Dien.Evolution;
using Dien.Kernels.Recurrence;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Kernels;

/// <summary>The fused recurrences against the step-by-step libtorch composition: values and gradients.</summary>
[Collection("Sequential")]
public sealed class FusedRecurrenceTests
{
    // Cells and outputs travel as ints: the enums are internal to the library.
    public static TheoryData<int> Cells() => new(Enum.GetValues<RecurrentCell>().Select(cell => (int)cell));

    public static TheoryData<int, int> Cases()
    {
        var data = new TheoryData<int, int>();
        foreach (var cell in Enum.GetValues<RecurrentCell>())
        {
            // Packed states need a packed input: their own test below.
            foreach (var output in Enum.GetValues<RecurrentOutput>().Where(o => o != RecurrentOutput.PackedStates))
            {
                data.Add((int)cell, (int)output);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float64MatchesReferenceForwardAndGradients(int cellId, int outputId)
    {
        var (cell, output) = ((RecurrentCell)cellId, (RecurrentOutput)outputId);
        using var scope = NewDisposeScope();
        var inputs = Inputs.Random(cell, batch: 5, steps: 7, hidden: 6, ScalarType.Float64, seed: 11, lengths: [7, 3, 0, 1, 5]);
        Compare(cell, output, inputs, tolerance: 1e-10);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float32MatchesReferenceAtBenchmarkWidthOnSeveralWorkers(int cellId, int outputId)
    {
        var (cell, output) = ((RecurrentCell)cellId, (RecurrentOutput)outputId);
        // H = 36 (gates padded inside the kernel) and enough rows that the kernel splits them across workers.
        using var scope = NewDisposeScope();
        var rng = new Random(5);
        int[] lengths = Enumerable.Range(0, 40).Select(_ => rng.Next(0, 13)).ToArray();
        var inputs = Inputs.Random(cell, batch: 40, steps: 12, hidden: 36, ScalarType.Float32, seed: 3, lengths: lengths);
        Compare(cell, output, inputs, tolerance: 2e-5);
    }

    // 17 rows: lengths 0 and T, repeats, in no order.
    private static readonly int[] MixedLengths = [3, 9, 0, 1, 9, 5, 2, 7, 0, 4, 9, 6, 8, 3, 1, 5, 2];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Rows_of_mixed_lengths_match_the_reference_in_float64(int cellId, int outputId)
    {
        // H = 7 leaves padding lanes in every gate.
        var (cell, output) = ((RecurrentCell)cellId, (RecurrentOutput)outputId);
        using var scope = NewDisposeScope();
        var inputs = Inputs.Random(cell, batch: MixedLengths.Length, steps: 9, hidden: 7, ScalarType.Float64, seed: 23, lengths: MixedLengths);
        Compare(cell, output, inputs, tolerance: 1e-12);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Permuting_the_rows_permutes_the_outputs_and_leaves_the_weight_gradients(int cellId, int outputId)
    {
        // Rows are independent: the batch order must not matter beyond the summation order of the weight gradients.
        var (cell, output) = ((RecurrentCell)cellId, (RecurrentOutput)outputId);
        using var scope = NewDisposeScope();
        int batch = MixedLengths.Length;
        var inputs = Inputs.Random(cell, batch, steps: 9, hidden: 7, ScalarType.Float64, seed: 29, lengths: MixedLengths);
        var rng = new Random(7);
        int[] permutation = Enumerable.Range(0, batch).OrderBy(_ => rng.Next()).ToArray();
        var order = tensor(permutation.Select(b => (long)b).ToArray());
        var permuted = new Inputs
        {
            XProj = inputs.XProj.detach().index_select(0, order).requires_grad_(),
            Attention = inputs.Attention?.detach().index_select(0, order).requires_grad_(),
            WeightHh = inputs.WeightHh.detach().clone().requires_grad_(),
            BiasHh = inputs.BiasHh?.detach().clone().requires_grad_(),
            Lengths = permutation.Select(b => MixedLengths[b]).ToArray(),
        };
        var weights = randn(output == RecurrentOutput.AllStates ? [batch, 9, 7] : [batch, 7], dtype: ScalarType.Float64, generator: new Generator(3));

        var y = Call(cell, output, inputs);
        (y * weights).sum().backward();
        var yPermuted = Call(cell, output, permuted);
        (yPermuted * weights.index_select(0, order)).sum().backward();

        MaxDiff(yPermuted, y.detach().index_select(0, order)).Should().BeLessThan(1e-13);
        MaxDiff(permuted.XProj.grad!, inputs.XProj.grad!.index_select(0, order)).Should().BeLessThan(1e-13);
        if (inputs.Attention is not null)
        {
            MaxDiff(permuted.Attention!.grad!, inputs.Attention.grad!.index_select(0, order)).Should().BeLessThan(1e-13);
        }

        MaxDiff(permuted.WeightHh.grad!, inputs.WeightHh.grad!).Should().BeLessThan(1e-12);
        MaxDiff(permuted.BiasHh!.grad!, inputs.BiasHh!.grad!).Should().BeLessThan(1e-12);
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public void Packed_states_are_the_valid_rows_of_all_states_with_the_same_gradients_exactly(int cellId)
    {
        // States, saved gates and the states' gradient one row per valid position: the same arithmetic.
        var cell = (RecurrentCell)cellId;
        using var scope = NewDisposeScope();
        int[] lengths = [7, 3, 0, 1, 5];
        var inputs = Inputs.Random(cell, batch: 5, steps: 7, hidden: 6, ScalarType.Float64, seed: 14, lengths: lengths);
        var positions = tensor(Dien.Data.Batching.ValidPositions.Positions(lengths, 7));
        var upstream = randn(5 * 7, 6, dtype: ScalarType.Float64);
        var packedX = inputs.XProj.detach().reshape(-1, inputs.XProj.shape[2]).index_select(0, positions).requires_grad_();

        inputs.ZeroGrad();
        var all = FusedRecurrence.Run(cell, RecurrentOutput.AllStates, packedX, inputs.Attention, inputs.WeightHh, inputs.BiasHh, lengths, packedSteps: 7);
        (all.reshape(-1, 6) * upstream).sum().backward();
        Tensor?[] expected = [packedX.grad!.clone(), inputs.Attention?.grad?.clone(), inputs.WeightHh.grad!.clone(), inputs.BiasHh!.grad!.clone()];

        packedX.grad!.zero_();
        inputs.ZeroGrad();
        var packed = FusedRecurrence.Run(cell, RecurrentOutput.PackedStates, packedX, inputs.Attention, inputs.WeightHh, inputs.BiasHh, lengths, packedSteps: 7);
        (packed * upstream.index_select(0, positions)).sum().backward();
        Tensor?[] actual = [packedX.grad!, inputs.Attention?.grad, inputs.WeightHh.grad!, inputs.BiasHh!.grad!];

        packed.shape.Should().Equal(16, 6);
        MaxDiff(packed, all.reshape(-1, 6).index_select(0, positions)).Should().Be(0);
        for (int i = 0; i < expected.Length; i++)
        {
            (actual[i] is null).Should().Be(expected[i] is null);
            if (expected[i] is not null)
            {
                MaxDiff(actual[i]!, expected[i]!).Should().Be(0, "gradient {0}", i);
            }
        }

        expected[2]!.abs().sum().item<double>().Should().BeGreaterThan(0);
        var padded = () => FusedRecurrence.Run(cell, RecurrentOutput.PackedStates, inputs.XProj, inputs.Attention, inputs.WeightHh, inputs.BiasHh, lengths);
        padded.Should().Throw<ArgumentException>().WithMessage("*PackedStates needs a packed input projection*");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_packed_projection_gives_the_padded_ones_outputs_and_gradients_exactly(int cellId, int outputId)
    {
        // The valid positions row after row, [sum of lengths, 3H]: the same values read, so the same arithmetic.
        var (cell, output) = ((RecurrentCell)cellId, (RecurrentOutput)outputId);
        using var scope = NewDisposeScope();
        int[] lengths = [7, 3, 0, 1, 5];
        var inputs = Inputs.Random(cell, batch: 5, steps: 7, hidden: 6, ScalarType.Float32, seed: 13, lengths: lengths);
        var (padded, paddedGrads) = Fused(cell, output, inputs, seed: 8);
        var positions = tensor(lengths.SelectMany((length, b) => Enumerable.Range(0, length).Select(t => (long)((b * 7) + t))).ToArray());
        var packedX = inputs.XProj.detach().reshape(-1, inputs.XProj.shape[2]).index_select(0, positions).requires_grad_();
        var (packed, packedGrads) = WithGrads(inputs, seed: 8, () => FusedRecurrence.Run(cell, output, packedX, inputs.Attention, inputs.WeightHh, inputs.BiasHh, lengths, packedSteps: 7), packedX);

        packed.shape.Should().Equal(padded.shape);
        MaxDiff(packed, padded).Should().Be(0);
        packedGrads[0].shape.Should().Equal(positions.shape[0], inputs.XProj.shape[2]);
        MaxDiff(packedGrads[0], paddedGrads[0].reshape(-1, inputs.XProj.shape[2]).index_select(0, positions)).Should().Be(0);
        for (int i = 1; i < paddedGrads.Length; i++)
        {
            (paddedGrads[i] is null).Should().Be(packedGrads[i] is null);
            if (paddedGrads[i] is not null)
            {
                MaxDiff(packedGrads[i], paddedGrads[i]).Should().Be(0, "gradient {0}", i);
            }
        }

        var wrong = () => FusedRecurrence.Run(cell, output, packedX.narrow(0, 0, 10), inputs.Attention, inputs.WeightHh, inputs.BiasHh, lengths, packedSteps: 7);
        wrong.Should().Throw<ArgumentException>().WithMessage("*one row per valid position (16)*");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Rows_sharing_a_history_read_its_projection_in_place_with_a_copy_per_rows_results_exactly(int cellId, int outputId)
    {
        // Ranking: three histories' projections [3, T, 3H] and seven rows, each reading one (one unread, one read by
        // four rows), with their own lengths and attention. Without a gradient the kernel reads the blocks in place;
        // with one, each row gets its own copy. Both must give what a copy per row gives.
        var (cell, output) = ((RecurrentCell)cellId, (RecurrentOutput)outputId);
        using var scope = NewDisposeScope();
        int[] inputRows = [2, 0, 0, 2, 2, 0, 2];
        int[] lengths = [7, 3, 0, 1, 7, 5, 2];
        var histories = Inputs.Random(cell, batch: 3, steps: 7, hidden: 6, ScalarType.Float32, seed: 31, lengths: [7, 7, 7]);
        var gen = new Generator(4);
        var copied = new Inputs
        {
            XProj = histories.XProj.detach().index_select(0, tensor(inputRows.Select(r => (long)r).ToArray())).requires_grad_(),
            Attention = histories.Attention is null ? null : rand(new long[] { inputRows.Length, 7 }, generator: gen).requires_grad_(),
            WeightHh = histories.WeightHh,
            BiasHh = histories.BiasHh,
            Lengths = lengths,
        };
        var (expected, expectedGrads) = Fused(cell, output, copied, seed: 9);
        var shared = new Inputs { XProj = histories.XProj, Attention = copied.Attention, WeightHh = histories.WeightHh, BiasHh = histories.BiasHh, Lengths = lengths };
        Tensor Shared() => FusedRecurrence.Run(cell, output, shared.XProj, shared.Attention, shared.WeightHh, shared.BiasHh, lengths, inputRows: inputRows);

        using (no_grad())
        {
            MaxDiff(Shared(), expected).Should().Be(0);
        }

        var (withGrad, grads) = WithGrads(shared, seed: 9, Shared);
        MaxDiff(withGrad, expected).Should().Be(0);
        var blockGrads = zeros_like(histories.XProj).index_add_(0, tensor(inputRows.Select(r => (long)r).ToArray()), expectedGrads[0], 1.0);
        MaxDiff(grads[0], blockGrads).Should().BeLessThan(1e-6, "each block's gradient is the sum of its rows'");
        grads[0][1].abs().max().item<float>().Should().Be(0, "no row reads block 1");
        for (int i = 1; i < grads.Length; i++)
        {
            (grads[i] is null).Should().Be(expectedGrads[i] is null);
            if (grads[i] is not null)
            {
                MaxDiff(grads[i], expectedGrads[i]).Should().Be(0, "gradient {0}", i);
            }
        }

        var outOfRange = () => FusedRecurrence.Run(cell, output, histories.XProj, shared.Attention, histories.WeightHh, histories.BiasHh, lengths, inputRows: [2, 0, 0, 3, 2, 0, 2]);
        outOfRange.Should().Throw<ArgumentException>().WithMessage("inputRows[3] = 3: inputProjection has shape [3, 7, 18], so a row reads a block 0 .. 2.*");
        var tooFew = () => FusedRecurrence.Run(cell, output, histories.XProj, shared.Attention, histories.WeightHh, histories.BiasHh, lengths, inputRows: [2, 0]);
        tooFew.Should().Throw<ArgumentException>().WithMessage("inputRows has 2 entries for 7 rows (lengths)*");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsMatchFiniteDifferencesInFloat64(int cellId, int outputId)
    {
        // Independent of libtorch's autograd: central differences of a weighted sum of the outputs.
        var (cell, output) = ((RecurrentCell)cellId, (RecurrentOutput)outputId);
        using var scope = NewDisposeScope();
        var inputs = Inputs.Random(cell, batch: 3, steps: 4, hidden: 3, ScalarType.Float64, seed: 5, lengths: [4, 2, 0]);
        var (y, grads) = Fused(cell, output, inputs, seed: 6);
        var weights = randn(y.shape, dtype: ScalarType.Float64, generator: new Generator(6));
        double Loss()
        {
            using var inner = NewDisposeScope();
            using var noGrad = no_grad();
            return (Call(cell, output, inputs) * weights).sum().item<double>();
        }

        Tensor?[] parameters = [inputs.XProj, inputs.Attention, inputs.WeightHh, inputs.BiasHh];
        const double step = 1e-6;
        for (int i = 0; i < parameters.Length; i++)
        {
            if (parameters[i] is not { } p)
            {
                continue;
            }

            var flat = p.detach().view(-1);
            var analytic = grads[i].reshape(-1).data<double>().ToArray();
            for (int k = 0; k < flat.shape[0]; k++)
            {
                double original = flat[k].item<double>();
                flat[k] = original + step;
                double plus = Loss();
                flat[k] = original - step;
                double minus = Loss();
                flat[k] = original;
                double numeric = (plus - minus) / (2 * step);
                analytic[k].Should().BeApproximately(numeric, 1e-6, $"parameter {i}, element {k}");
            }
        }
    }

    [Fact]
    public void WithoutHiddenBiasMatchesReferenceAndGivesNoBiasGradient()
    {
        using var scope = NewDisposeScope();
        var inputs = Inputs.Random(RecurrentCell.AugruPaper, batch: 3, steps: 4, hidden: 5, ScalarType.Float64, seed: 2, lengths: [4, 2, 3]);
        inputs.BiasHh = null;
        Compare(RecurrentCell.AugruPaper, RecurrentOutput.FinalState, inputs, tolerance: 1e-10);
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public void PaddingNeverChangesOutputsOrGradients(int cellId)
    {
        var cell = (RecurrentCell)cellId;
        using var scope = NewDisposeScope();
        int[] lengths = [4, 1, 0, 6];
        var clean = Inputs.Random(cell, batch: 4, steps: 6, hidden: 5, ScalarType.Float64, seed: 8, lengths: lengths);
        var dirty = clean.Clone();
        var padded = Inputs.PaddingMask(lengths, 6); // [B, T] true at padding
        using (no_grad())
        {
            dirty.XProj.masked_fill_(padded.unsqueeze(2), 1e3);
            dirty.Attention?.masked_fill_(padded, -7.0);
        }

        foreach (var output in new[] { RecurrentOutput.AllStates, RecurrentOutput.FinalState })
        {
            var (yClean, gClean) = Fused(cell, output, clean, seed: 4);
            var (yDirty, gDirty) = Fused(cell, output, dirty, seed: 4);
            yDirty.allclose(yClean, 0, 0).Should().BeTrue($"{output}: padding must not change the output");
            for (int i = 0; i < gClean.Length; i++)
            {
                if (gClean[i] is null)
                {
                    gDirty[i].Should().BeNull();
                    continue;
                }

                gDirty[i].allclose(gClean[i], 0, 0).Should().BeTrue($"{output}: padding must not change gradient {i}");
            }

            // Gradients at padded positions are exactly zero, and so are states there.
            gClean[0].masked_select(padded.unsqueeze(2).expand_as(gClean[0])).abs().max().item<double>().Should().Be(0);
            if (gClean[1] is not null)
            {
                gClean[1].masked_select(padded).abs().max().item<double>().Should().Be(0);
            }

            if (output == RecurrentOutput.AllStates)
            {
                yClean.masked_select(padded.unsqueeze(2).expand_as(yClean)).abs().max().item<double>().Should().Be(0);
            }
        }
    }

    [Fact]
    public void EmptyRowsGiveZeroStateAndZeroGradients()
    {
        using var scope = NewDisposeScope();
        var inputs = Inputs.Random(RecurrentCell.AugruAuthorsCode, batch: 2, steps: 3, hidden: 4, ScalarType.Float64, seed: 9, lengths: [0, 0]);
        var (y, grads) = Fused(RecurrentCell.AugruAuthorsCode, RecurrentOutput.FinalState, inputs, seed: 1);
        y.abs().max().item<double>().Should().Be(0);
        grads[0].abs().max().item<double>().Should().Be(0);
        grads[1].abs().max().item<double>().Should().Be(0);
        grads[2].abs().max().item<double>().Should().Be(0);
        grads[3].abs().max().item<double>().Should().Be(0);
    }

    [Fact]
    public void TinyAugruCaseMatchesScalarMath()
    {
        // H = 1, two steps of the paper's AUGRU written out by hand.
        using var scope = NewDisposeScope();
        double[] x = [0.2, -0.4, 0.5, -0.1, 0.3, 0.7]; // (x_r, x_u, x_h) per step
        double[] a = [0.8, 0.3];
        double wr = 0.6, wu = -0.5, wh = 0.9, br = 0.1, bu = -0.2, bh = 0.05;
        var xProj = tensor(x, new long[] { 1, 2, 3 }, dtype: ScalarType.Float64);
        var att = tensor(a, new long[] { 1, 2 }, dtype: ScalarType.Float64);
        var w = tensor(new[] { wr, wu, wh }, new long[] { 3, 1 }, dtype: ScalarType.Float64);
        var bias = tensor(new[] { br, bu, bh }, dtype: ScalarType.Float64);

        double h = 0;
        var expected = new double[2];
        for (int t = 0; t < 2; t++)
        {
            double r = Sigmoid(x[3 * t] + (wr * h) + br);
            double u = Sigmoid(x[(3 * t) + 1] + (wu * h) + bu);
            double c = Math.Tanh(x[(3 * t) + 2] + (r * ((wh * h) + bh)));
            double ut = a[t] * u;
            h = ((1 - ut) * h) + (ut * c);
            expected[t] = h;
        }

        var states = FusedRecurrence.AttentionalStates(xProj, att, w, bias, [2], RecurrentCell.AugruPaper);
        states.data<double>().ToArray().Should().BeEquivalentTo(expected, o => o.Using<double>(ctx => ctx.Subject.Should().BeApproximately(ctx.Expectation, 1e-12)).WhenTypeIs<double>());
        var last = FusedRecurrence.AttentionalFinalState(xProj, att, w, bias, [1], RecurrentCell.AugruPaper);
        last.item<double>().Should().BeApproximately(expected[0], 1e-12);
    }

    [Fact]
    public void TinyGruCaseMatchesTorchSharpGru()
    {
        // The plain cell against TorchSharp's own GRU (same layout and sign convention).
        using var scope = NewDisposeScope();
        manual_seed(21);
        using var gru = nn.GRU(3, 4, batchFirst: true);
        gru.to(ScalarType.Float64);
        var input = randn(new long[] { 2, 5, 3 }, dtype: ScalarType.Float64);
        var (expected, _) = gru.call(input, null);
        var p = gru.named_parameters().ToDictionary(kv => kv.name, kv => kv.parameter);
        var xProj = nn.functional.linear(input, p["weight_ih_l0"], p["bias_ih_l0"]);
        var states = FusedRecurrence.GruStates(xProj, p["weight_hh_l0"], p["bias_hh_l0"], [5, 5]);
        states.allclose(expected, 1e-10, 1e-10).Should().BeTrue();
    }

    [Fact]
    public void InferenceWithoutGradientEqualsTrainingForward()
    {
        using var scope = NewDisposeScope();
        var inputs = Inputs.Random(RecurrentCell.Agru, batch: 3, steps: 5, hidden: 4, ScalarType.Float32, seed: 6, lengths: [5, 2, 4]);
        var withGrad = Call(RecurrentCell.Agru, RecurrentOutput.AllStates, inputs);
        withGrad.requires_grad.Should().BeTrue();
        using (no_grad())
        {
            var inference = Call(RecurrentCell.Agru, RecurrentOutput.AllStates, inputs);
            inference.requires_grad.Should().BeFalse();
            inference.allclose(withGrad.detach(), 0, 0).Should().BeTrue();
        }
    }

    [Fact]
    public void BadInputsAreRejectedWithTheirNames()
    {
        using var scope = NewDisposeScope();
        var inputs = Inputs.Random(RecurrentCell.AugruPaper, batch: 2, steps: 3, hidden: 4, ScalarType.Float32, seed: 1, lengths: [3, 1]);
        var act = () => FusedRecurrence.AttentionalStates(inputs.XProj, inputs.Attention!, inputs.WeightHh, inputs.BiasHh, [3, 4], RecurrentCell.AugruPaper);
        act.Should().Throw<ArgumentException>().WithMessage("*lengths[1] = 4*");
        act = () => FusedRecurrence.AttentionalStates(inputs.XProj, inputs.Attention!, inputs.WeightHh, inputs.BiasHh, [3], RecurrentCell.AugruPaper);
        act.Should().Throw<ArgumentException>().WithMessage("*lengths has 1 entries*");
        act = () => FusedRecurrence.AttentionalStates(inputs.XProj, inputs.Attention!.to(ScalarType.Float64), inputs.WeightHh, inputs.BiasHh, [3, 1], RecurrentCell.AugruPaper);
        act.Should().Throw<ArgumentException>().WithMessage("*attention has dtype Float64*");
        act = () => FusedRecurrence.AttentionalStates(inputs.XProj, inputs.Attention!, inputs.WeightHh.t(), inputs.BiasHh, [3, 1], RecurrentCell.AugruPaper);
        act.Should().Throw<ArgumentException>().WithMessage("*weightHh has shape*");
        act = () => FusedRecurrence.AttentionalStates(inputs.XProj, inputs.Attention!, inputs.WeightHh, inputs.BiasHh, [3, 1], RecurrentCell.Gru);
        act.Should().Throw<ArgumentException>().WithMessage("*cell = Gru*");
        act = () => FusedRecurrence.Run(RecurrentCell.Gru, RecurrentOutput.AllStates, inputs.XProj, inputs.Attention, inputs.WeightHh, inputs.BiasHh, [3, 1]);
        act.Should().Throw<ArgumentException>().WithMessage("*attention was given to a plain GRU*");
        act = () => FusedRecurrence.GruStates(inputs.XProj.to(ScalarType.Int32), inputs.WeightHh, inputs.BiasHh, [3, 1]);
        act.Should().Throw<ArgumentException>().WithMessage("*inputProjection has dtype Int32*");
    }

    [Fact]
    public void RepeatedTrainingStepsHoldTensorCountFlat()
    {
        var inputs = Inputs.Random(RecurrentCell.AugruPaper, batch: 4, steps: 5, hidden: 6, ScalarType.Float32, seed: 1, lengths: [5, 3, 1, 4]);
        long Step()
        {
            using var scope = NewDisposeScope();
            inputs.ZeroGrad();
            var y = FusedRecurrence.AttentionalFinalState(inputs.XProj, inputs.Attention!, inputs.WeightHh, inputs.BiasHh, inputs.Lengths, RecurrentCell.AugruPaper);
            y.pow(2).sum().backward();
            return DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        }

        Step();
        long first = Step();
        for (int i = 0; i < 5; i++)
        {
            Step();
        }

        Step().Should().BeLessThanOrEqualTo(first);
    }

    private static void Compare(RecurrentCell cell, RecurrentOutput output, Inputs inputs, double tolerance)
    {
        var (yRef, gRef) = ReferenceWithGrads(cell, output, inputs, seed: 17);
        var (y, g) = Fused(cell, output, inputs, seed: 17);
        y.shape.Should().Equal(yRef.shape);
        y.allclose(yRef, tolerance, tolerance).Should().BeTrue($"forward: max diff {MaxDiff(y, yRef)}");
        string[] names = ["xProj", "attention", "weightHh", "biasHh"];
        for (int i = 0; i < names.Length; i++)
        {
            if (gRef[i] is null)
            {
                g[i].Should().BeNull($"{names[i]} is absent or takes no gradient");
                continue;
            }

            g[i].Should().NotBeNull(names[i]);
            g[i].allclose(gRef[i], tolerance, tolerance).Should().BeTrue($"d{names[i]}: max diff {MaxDiff(g[i], gRef[i])}");
        }
    }

    private static Tensor Call(RecurrentCell cell, RecurrentOutput output, Inputs inputs)
        => FusedRecurrence.Run(cell, output, inputs.XProj, inputs.Attention, inputs.WeightHh, inputs.BiasHh, inputs.Lengths);

    private static (Tensor Output, Tensor[] Grads) Fused(RecurrentCell cell, RecurrentOutput output, Inputs inputs, int seed)
        => WithGrads(inputs, seed, () => Call(cell, output, inputs));

    private static (Tensor Output, Tensor[] Grads) ReferenceWithGrads(RecurrentCell cell, RecurrentOutput output, Inputs inputs, int seed)
        => WithGrads(inputs, seed, () => StepwiseRecurrence.Run(cell, output, inputs.XProj, inputs.Attention, inputs.WeightHh, inputs.BiasHh, inputs.Lengths));

    /// <summary>Runs <paramref name="run"/>, back-propagates a random weighted sum of its output, returns the output and the input gradients.</summary>
    private static (Tensor Output, Tensor[] Grads) WithGrads(Inputs inputs, int seed, Func<Tensor> run, Tensor? xProj = null)
    {
        inputs.ZeroGrad();
        var y = run();
        var gen = new Generator((ulong)seed);
        var weights = randn(y.shape, dtype: y.dtype, generator: gen);
        (y * weights).sum().backward();
        Tensor[] grads = [(xProj ?? inputs.XProj).grad!, inputs.Attention?.grad!, inputs.WeightHh.grad!, inputs.BiasHh?.grad!];
        return (y.detach(), grads.Select(t => t?.clone()!).ToArray());
    }

    private static double MaxDiff(Tensor a, Tensor b) => (a - b).abs().max().to(ScalarType.Float64).item<double>();

    private static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));

    private sealed class Inputs
    {
        public required Tensor XProj { get; init; }

        public Tensor? Attention { get; init; }

        public required Tensor WeightHh { get; init; }

        public Tensor? BiasHh { get; set; }

        public required int[] Lengths { get; init; }

        public static Inputs Random(RecurrentCell cell, int batch, int steps, int hidden, ScalarType dtype, int seed, int[] lengths)
        {
            var gen = new Generator((ulong)seed);
            return new Inputs
            {
                XProj = randn(new long[] { batch, steps, 3 * hidden }, dtype: dtype, generator: gen).requires_grad_(),
                Attention = cell is RecurrentCell.Gru or RecurrentCell.UpdateGateGru ? null : rand(new long[] { batch, steps }, dtype: dtype, generator: gen).requires_grad_(),
                WeightHh = (randn(new long[] { 3 * hidden, hidden }, dtype: dtype, generator: gen) * (1.5 / Math.Sqrt(hidden))).requires_grad_(),
                BiasHh = (randn(new long[] { 3 * hidden }, dtype: dtype, generator: gen) * 0.5).requires_grad_(),
                Lengths = lengths,
            };
        }

        public static Tensor PaddingMask(int[] lengths, int steps)
            => arange(steps).unsqueeze(0).ge(tensor(lengths.Select(l => (long)l).ToArray()).unsqueeze(1));

        public Inputs Clone() => new()
        {
            XProj = XProj.detach().clone().requires_grad_(),
            Attention = Attention?.detach().clone().requires_grad_(),
            WeightHh = WeightHh.detach().clone().requires_grad_(),
            BiasHh = BiasHh?.detach().clone().requires_grad_(),
            Lengths = (int[])Lengths.Clone(),
        };

        public void ZeroGrad()
        {
            foreach (var t in new[] { XProj, Attention, WeightHh, BiasHh })
            {
                if (t?.grad is { } g)
                {
                    g.zero_();
                }
            }
        }
    }
}
