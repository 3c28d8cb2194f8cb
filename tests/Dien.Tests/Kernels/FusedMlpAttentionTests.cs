using Dien.Attention;
using Dien.Kernels.Attention;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static Dien.Tests.TestKit;
using static TorchSharp.torch;

namespace Dien.Tests.Kernels;

/// <summary>The fused MLP attention against the libtorch composition of the same module: weights and every gradient.</summary>
[Collection("Sequential")]
public sealed class FusedMlpAttentionTests
{
    public static TheoryData<int[]> HiddenLayers() => new() { new[] { 80, 40 }, new[] { 7 }, Array.Empty<int>(), new[] { 9, 3, 5 } };

    [Theory]
    [MemberData(nameof(HiddenLayers))]
    public void Float64MatchesTheCompositionWeightsAndGradients(int[] hidden)
    {
        // Lengths 0 and 1, full rows, and more than one tile of 32 positions.
        int[] lengths = [40, 0, 1, 2, 33, 40, 3, 17, 8, 4, 6, 40, 1, 2, 39, 5];
        Compare(hidden, Mask(lengths, 40), keySize: 5, querySize: 6, ScalarType.Float64, seed: 4, tolerance: 1e-11);
    }

    [Fact]
    public void Float64MatchesOnAMaskWithHoles()
    {
        // Not a prefix mask: the kernel must score exactly the flagged positions.
        var mask = tensor(new[] { true, false, true, true, false, false, true, false, false, true, false, true }).reshape(3, 4);
        Compare([6, 4], mask, keySize: 3, querySize: 2, ScalarType.Float64, seed: 6, tolerance: 1e-11);
    }

    [Fact]
    public void Float32MatchesTheCompositionOnTheBenchShapeWithSeveralChunks()
    {
        var random = new Random(9);
        int[] lengths = Enumerable.Range(0, 64).Select(_ => random.Next(0, 29)).ToArray();
        Compare([80, 40], Mask(lengths, 28), keySize: 36, querySize: 36, ScalarType.Float32, seed: 10, tolerance: 2e-5);
    }

    [Fact]
    public void InferenceGivesTheTrainingForward()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(14);
        using var attention = new MlpAttention(4, 3, new List<int> { 6, 5 });
        attention.to(ScalarType.Float64);
        var states = randn(5, 7, 4, ScalarType.Float64).requires_grad_();
        var target = randn(5, 3, ScalarType.Float64);
        var mask = Mask([7, 3, 0, 5, 1], 7);
        var withGraph = attention.call(states, target, mask);
        using (torch.no_grad())
        {
            var inference = attention.call(states, target, mask);
            inference.requires_grad.Should().BeFalse();
            inference.equal(withGraph.detach()).all().item<bool>().Should().BeTrue();
        }
    }

    [Fact]
    public void BadShapesAreRejectedWithTheirName()
    {
        using var scope = NewDisposeScope();
        var keys = randn(2, 3, 4);
        var mask = Mask([2, 3], 3);
        var weights = new List<Tensor> { randn(5, 16), randn(2, 5) };
        var biases = new List<Tensor> { randn(5), randn(2) };
        FluentActions.Invoking(() => FusedMlpAttention.Scores(keys, randn(2, 4), mask, weights, biases))
            .Should().Throw<ArgumentException>().WithMessage("*last layer has 2 outputs*");
        weights[1] = randn(1, 5);
        biases[1] = randn(1);
        FluentActions.Invoking(() => FusedMlpAttention.Scores(keys, randn(2, 5), mask, weights, biases))
            .Should().Throw<ArgumentException>().WithMessage("*query*");
        FluentActions.Invoking(() => FusedMlpAttention.Scores(keys, randn(2, 4), mask, new List<Tensor> { randn(5, 12), weights[1] }, biases))
            .Should().Throw<ArgumentException>().WithMessage("*layer 0*");
    }

    [Fact]
    public void PackedKeysGiveBitwiseTheScoresAndGradientsOfPaddedOnes()
    {
        // Keys at the valid positions only, row after row (a mask with holes too): the same arithmetic.
        using var scope = NewDisposeScope();
        torch.manual_seed(23);
        var mask = Mask([5, 0, 2, 7, 1], 7);
        mask[3, 2] = tensor(false);
        var keys = randn(5, 7, 4, ScalarType.Float64);
        var query = randn(5, 4, ScalarType.Float64);
        var (weights, biases) = RandomLayers();
        var upstream = randn(5, 7, ScalarType.Float64);
        var positions = mask.reshape(-1).nonzero().reshape(-1);
        Tensor Pack(Tensor padded) => padded.reshape(-1, 4).index_select(0, positions);

        var padded = keys.clone().requires_grad_();
        var paddedQuery = query.clone().requires_grad_();
        var paddedScores = FusedMlpAttention.Scores(padded, paddedQuery, mask, weights, biases);
        (paddedScores * upstream).sum().backward();
        var packed = Pack(keys).requires_grad_();
        var packedQuery = query.clone().requires_grad_();
        var packedScores = FusedMlpAttention.Scores(packed, packedQuery, mask, weights, biases);
        (packedScores * upstream).sum().backward();

        packedScores.eq(paddedScores).all().item<bool>().Should().BeTrue("the scores");
        packed.grad!.eq(Pack(padded.grad!)).all().item<bool>().Should().BeTrue("the keys' gradient at the valid positions");
        packedQuery.grad!.eq(paddedQuery.grad!).all().item<bool>().Should().BeTrue("the query's gradient");
        packed.grad!.abs().sum().item<double>().Should().BeGreaterThan(0);
        using (no_grad())
        {
            FusedMlpAttention.Scores(Pack(keys), query, mask, weights, biases).eq(paddedScores).all().item<bool>().Should().BeTrue("inference reads packed keys too");
        }

        FluentActions.Invoking(() => FusedMlpAttention.Scores(Pack(keys).narrow(0, 0, 13), query, mask, weights, biases))
            .Should().Throw<ArgumentException>().WithMessage("*13 rows but the mask has 14 valid positions*");
    }

    [Fact]
    public void Inference_reads_inputs_that_are_not_contiguous_as_their_values()
    {
        // Inference reads contiguous tensors where they are and copies the others: views with other strides must score
        // as their contiguous copies do.
        using var scope = NewDisposeScope();
        torch.manual_seed(31);
        var mask = Mask([5, 2, 0, 4], 5);
        var keys = randn(4, 5, 4, ScalarType.Float64);
        var query = randn(4, 4, ScalarType.Float64);
        var (weights, biases) = RandomLayers();
        using (no_grad())
        {
            var expected = FusedMlpAttention.Scores(keys, query, mask, weights, biases);
            var strided = keys.transpose(0, 1).contiguous().transpose(0, 1);
            var stridedQuery = query.t().contiguous().t();
            var stridedWeights = weights.Select(w => w.t().contiguous().t()).ToList();
            strided.is_contiguous().Should().BeFalse();
            stridedWeights[0].is_contiguous().Should().BeFalse();
            FusedMlpAttention.Scores(strided, stridedQuery, mask, stridedWeights, biases).eq(expected).all().item<bool>().Should().BeTrue();
        }
    }

    [Fact]
    public void Rows_sharing_a_history_read_its_keys_in_place_with_a_copy_per_rows_scores_exactly()
    {
        // Ranking: two histories' keys [2, T, H] and five rows reading them, each with its own query and mask. Without a
        // gradient the kernel reads the blocks in place; with one, each row gets its own copy; both as a copy per row.
        using var scope = NewDisposeScope();
        torch.manual_seed(29);
        int[] keyRows = [1, 0, 1, 1, 0];
        var mask = Mask([6, 2, 6, 0, 2], 6);
        mask[2, 4] = tensor(false);
        var keys = randn(2, 6, 4, ScalarType.Float64);
        var query = randn(5, 4, ScalarType.Float64);
        var (weights, biases) = RandomLayers();
        var upstream = randn(5, 6, ScalarType.Float64);
        var index = tensor(keyRows.Select(r => (long)r).ToArray());

        var copied = keys.index_select(0, index).requires_grad_();
        var expected = FusedMlpAttention.Scores(copied, query, mask, weights, biases);
        (expected * upstream).sum().backward();
        using (no_grad())
        {
            FusedMlpAttention.Scores(keys, query, mask, weights, biases, keyRows).eq(expected).all().item<bool>().Should().BeTrue("inference reads the shared keys");
        }

        var shared = keys.clone().requires_grad_();
        var withGrad = FusedMlpAttention.Scores(shared, query, mask, weights, biases, keyRows);
        (withGrad * upstream).sum().backward();
        withGrad.eq(expected).all().item<bool>().Should().BeTrue("the scores with a gradient");
        var blockGrads = zeros_like(keys).index_add_(0, index, copied.grad!, 1.0);
        (shared.grad! - blockGrads).abs().max().item<double>().Should().BeLessThan(1e-12, "each block's gradient is the sum of its rows'");
        shared.grad!.abs().sum().item<double>().Should().BeGreaterThan(0);

        FluentActions.Invoking(() => FusedMlpAttention.Scores(keys, query, mask, weights, biases, [1, 0, 2, 1, 0]))
            .Should().Throw<ArgumentException>().WithMessage("keyRows[2] = 2: keys have shape [2, 6, 4], so a row reads a block 0 .. 1.*");
        FluentActions.Invoking(() => FusedMlpAttention.Scores(keys, query, mask, weights, biases, [1, 0]))
            .Should().Throw<ArgumentException>().WithMessage("*query*");
    }

    /// <summary>Random float64 layers 16 -> 6 -> 3 -> 1 (keys of width 4), weights drawn before biases.</summary>
    private static (List<Tensor> Weights, List<Tensor> Biases) RandomLayers()
    {
        var weights = new List<Tensor> { randn(6, 16, ScalarType.Float64), randn(3, 6, ScalarType.Float64), randn(1, 3, ScalarType.Float64) };
        var biases = new List<Tensor> { randn(6, ScalarType.Float64), randn(3, ScalarType.Float64), randn(1, ScalarType.Float64) };
        return (weights, biases);
    }

    private static void Compare(int[] hidden, Tensor mask, int keySize, int querySize, ScalarType dtype, int seed, double tolerance)
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(seed);
        using var fused = new MlpAttention(keySize, querySize, hidden.ToList());
        using var reference = new MlpAttention(keySize, querySize, hidden.ToList()) { UseFusedKernels = false };
        fused.to(dtype);
        reference.to(dtype);
        reference.load_state_dict(fused.state_dict());
        long batch = mask.shape[0], steps = mask.shape[1];
        var states = randn(batch, steps, keySize, dtype) * mask.unsqueeze(-1).to_type(dtype);
        var target = randn(batch, querySize, dtype);
        var upstream = randn(batch, steps, dtype);

        var (weights, grads) = Run(fused, states, target, mask, upstream);
        var (expected, expectedGrads) = Run(reference, states, target, mask, upstream);

        (weights - expected).abs().max().item<double>().Should().BeLessThanOrEqualTo(tolerance);
        grads.Length.Should().Be(expectedGrads.Length);

        // The score bias (the last parameter) shifts every score of a row alike, which the softmax ignores: its gradient
        // is 0 but for rounding, a sum over the valid positions of dL/ds_t = w_t (u_t - sum over s of w_s u_s), whose
        // order differs with the register width. It is compared at the scale of those terms, not of its result.
        var u = upstream.to_type(ScalarType.Float64);
        double scoreBiasTerms = (expected * (u - (expected * u).sum(1, keepdim: true))).abs().sum().item<double>();
        for (int i = 0; i < grads.Length; i++)
        {
            double floor = i == grads.Length - 1 ? scoreBiasTerms : dtype == ScalarType.Float32 ? 1e-2 : 1e-3;
            double scale = Math.Max(floor, expectedGrads[i].abs().max().item<double>());
            double error = (grads[i] - expectedGrads[i]).abs().max().item<double>();
            error.Should().BeLessThanOrEqualTo(tolerance * scale, $"gradient {i} (states, target, then each parameter) differs");
        }

        expectedGrads[0].abs().sum().item<double>().Should().BeGreaterThan(0, "the states must get a gradient");
    }

    private static (Tensor Weights, Tensor[] Grads) Run(MlpAttention attention, Tensor states, Tensor target, Tensor mask, Tensor upstream)
    {
        var s = states.detach().clone().requires_grad_();
        var q = target.detach().clone().requires_grad_();
        attention.zero_grad();
        var weights = attention.call(s, q, mask);
        (weights * upstream).sum().backward();
        var grads = new[] { s.grad!, q.grad! }.Concat(attention.parameters().Select(p => p.grad!)).Select(g => g.to_type(ScalarType.Float64)).ToArray();
        return (weights.detach().to_type(ScalarType.Float64), grads);
    }
}
