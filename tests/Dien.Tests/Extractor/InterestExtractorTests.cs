using Dien.Extractor;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static Dien.Tests.TestKit;
using static TorchSharp.torch;

namespace Dien.Tests.Extractor;

[Collection("Sequential")]
public sealed class InterestExtractorTests
{
    [Fact]
    public void StateDictKeysAreTheGruParameters()
    {
        using var extractor = new InterestExtractor(3, 2);
        var shapes = extractor.state_dict().ToDictionary(p => p.Key, p => p.Value.shape);
        shapes.Keys.Should().BeEquivalentTo("gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0", "gru.bias_hh_l0");
        shapes["gru.weight_ih_l0"].Should().Equal(6, 3);
        shapes["gru.weight_hh_l0"].Should().Equal(6, 2);
        shapes["gru.bias_ih_l0"].Should().Equal(6);
    }

    [Fact]
    public void PackedBehavioursGiveThePaddedRunsValidStatesAndItsGradients()
    {
        // A batch embedded packed: the kernel projects the valid behaviours as they are; padded ids out of every
        // vocabulary (9999) prove that padding is never looked up.
        using var scope = NewDisposeScope();
        manual_seed(4);
        var options = Dien.Tests.Model.ModelTestKit.TinyOptions();
        using var embedding = new Dien.Embeddings.BehaviourEmbedding(options.ToEmbeddingOptions());
        using var extractor = new InterestExtractor(options.BehaviourSize, options.HiddenSize);
        int[] lengths = [5, 0, 2, 7, 1, 3];
        using var batch = new Dien.Data.Batching.BehaviourBatch(Dien.Tests.Model.ModelTestKit.Arrays(lengths, 7, seed: 3, paddingId: 9999));

        var packed = embedding.Embed(batch, includeNegatives: false);
        packed.Packed.Should().NotBeNull();
        extractor.ReadsPacked(packed.Packed!.Behaviours).Should().BeTrue();
        var fromPacked = extractor.ForwardPacked(packed.Packed.Behaviours, batch.Mask, lengths);
        fromPacked.square().sum().backward();
        var packedGrads = embedding.parameters().Concat(extractor.parameters()).Where(p => p.grad is not null).Select(p => p.grad!.clone()).ToList();
        embedding.zero_grad();
        extractor.zero_grad();

        var padded = embedding.Embed(batch, includeNegatives: false);
        var fromPadded = extractor.call(padded.History, batch.Mask, lengths);
        fromPadded.square().sum().backward();
        var paddedGrads = embedding.parameters().Concat(extractor.parameters()).Where(p => p.grad is not null).Select(p => p.grad!).ToList();

        fromPacked.shape.Should().Equal(18, options.HiddenSize);
        fromPacked.allclose(fromPadded.reshape(-1, options.HiddenSize).index_select(0, packed.Packed.Positions), 1e-6, 1e-7).Should().BeTrue();
        packedGrads.Should().HaveCount(6, "the item and category tables and the GRU's four tensors");
        paddedGrads.Should().HaveCount(6);
        packedGrads.Zip(paddedGrads).Should().OnlyContain(p => p.First.allclose(p.Second, 1e-5, 1e-6));
        packedGrads[0].abs().sum().item<float>().Should().BeGreaterThan(0, "the item table gets a gradient");

        extractor.UseFusedKernels = false;
        extractor.ReadsPacked(packed.Packed.Behaviours).Should().BeFalse();
        FluentActions.Invoking(() => extractor.ForwardPacked(packed.Packed.Behaviours, batch.Mask, lengths))
            .Should().Throw<ArgumentException>().WithMessage("behaviours is packed (Float32 [18, 5] on cpu), which only the fused CPU kernel reads*they are off*");
    }

    [Fact]
    public void MatchesHandComputedGruStepsAndZeroesPadding()
    {
        using var scope = NewDisposeScope();
        using var extractor = new InterestExtractor(1, 1);
        // Rows stacked (r, z, n); TorchSharp convention: h = (1 - z) * n + z * h_prev.
        SetParameter(extractor, "gru.weight_ih_l0", 0.5, -0.3, 0.8);
        SetParameter(extractor, "gru.weight_hh_l0", 0.2, 0.4, -0.6);
        SetParameter(extractor, "gru.bias_ih_l0", 0.1, -0.2, 0.05);
        SetParameter(extractor, "gru.bias_hh_l0", -0.1, 0.3, 0.2);
        double[][] inputs = { new[] { 1.0, -2.0, 0.5 }, new[] { 0.7, 9.0, 9.0 }, new[] { 9.0, 9.0, 9.0 } };
        int[] lengths = { 3, 1, 0 };

        var x = tensor(inputs.SelectMany(r => r).Select(v => (float)v).ToArray()).reshape(3, 3, 1);
        var actual = Values(extractor.call(x, Mask(lengths, 3), lengths));

        for (int b = 0; b < 3; b++)
        {
            double h = 0;
            for (int t = 0; t < 3; t++)
            {
                double expected = 0;
                if (t < lengths[b])
                {
                    double xt = inputs[b][t];
                    double r = Sigmoid(0.5 * xt + 0.1 + 0.2 * h - 0.1);
                    double z = Sigmoid(-0.3 * xt - 0.2 + 0.4 * h + 0.3);
                    double n = Math.Tanh(0.8 * xt + 0.05 + r * (-0.6 * h + 0.2));
                    h = (1 - z) * n + z * h;
                    expected = h;
                }

                actual[b * 3 + t].Should().BeApproximately(expected, 1e-6, "row {0}, step {1}", b, t);
            }
        }
    }

    [Fact]
    public void MatchesTorchSharpPackedGru()
    {
        torch.manual_seed(13);
        using var scope = NewDisposeScope();
        using var extractor = new InterestExtractor(3, 4);
        using var reference = nn.GRU(3, 4, batchFirst: true);
        using (no_grad())
        {
            foreach (var (name, parameter) in reference.named_parameters())
            {
                parameter.copy_(extractor.named_parameters().Single(p => p.name == "gru." + name).parameter);
            }
        }

        int[] lengths = { 5, 2, 4 };
        var x = randn(3, 5, 3);
        var actual = extractor.call(x, Mask(lengths, 5), lengths);

        using var packed = nn.utils.rnn.pack_padded_sequence(x, tensor(new long[] { 5, 2, 4 }), batch_first: true, enforce_sorted: false);
        var (output, _) = reference.call(packed, null);
        var (expected, _) = nn.utils.rnn.pad_packed_sequence(output, batch_first: true, total_length: 5);
        actual.allclose(expected, 1e-5, 1e-6).Should().BeTrue();
    }

    [Fact]
    public void PaddingChangesNoOutputOrGradient()
    {
        torch.manual_seed(11);
        using var scope = NewDisposeScope();
        using var extractor = new InterestExtractor(3, 2);
        int[] lengths = { 4, 2, 0 };
        var mask = Mask(lengths, 4);
        var x = randn(3, 4, 3);
        var weights = randn(3, 6, 2);

        var (output, parameterGrads, inputGrad) = Run(extractor, x, mask, lengths, weights.narrow(1, 0, 4));

        var scrambled = ScramblePadding(x, mask);
        var (output2, parameterGrads2, inputGrad2) = Run(extractor, scrambled, mask, lengths, weights.narrow(1, 0, 4));
        output2.allclose(output, 0, 0).Should().BeTrue();
        parameterGrads2.Zip(parameterGrads).Should().OnlyContain(p => p.First.allclose(p.Second, 1e-6, 1e-7));
        inputGrad2.allclose(inputGrad, 0, 0).Should().BeTrue();

        var longer = AppendPadding(scrambled, 2);
        var (output3, parameterGrads3, inputGrad3) = Run(extractor, longer, Mask(lengths, 6), lengths, weights);
        output3.shape.Should().Equal(3, 6, 2);
        output3.narrow(1, 0, 4).allclose(output, 0, 0).Should().BeTrue();
        output3.narrow(1, 4, 2).count_nonzero().item<long>().Should().Be(0);
        parameterGrads3.Zip(parameterGrads).Should().OnlyContain(p => p.First.allclose(p.Second, 1e-6, 1e-7));
        inputGrad3.narrow(1, 0, 4).allclose(inputGrad, 0, 0).Should().BeTrue();

        // Padded positions are zero and receive no gradient.
        var padded = mask.logical_not().unsqueeze(-1);
        output.masked_select(padded).count_nonzero().item<long>().Should().Be(0);
        inputGrad.masked_select(padded.expand_as(inputGrad)).count_nonzero().item<long>().Should().Be(0);
        output.masked_select(mask.unsqueeze(-1).expand_as(output)).count_nonzero().item<long>().Should().BeGreaterThan(0);
    }

    [Fact]
    public void GradientsMatchFiniteDifferences()
    {
        torch.manual_seed(5);
        using var scope = NewDisposeScope();
        using var extractor = new InterestExtractor(2, 2);
        extractor.to(ScalarType.Float64);
        int[] lengths = { 3, 1, 0 };
        var mask = Mask(lengths, 3);
        var x = randn(3, 3, 2, ScalarType.Float64).requires_grad_();
        var weights = randn(3, 3, 2, ScalarType.Float64);

        var targets = extractor.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).Append(("behaviours", x));
        CheckGradients(() => (extractor.call(x, mask, lengths) * weights).sum(), targets);
    }

    [Fact]
    public void EmptyRowsGiveZeroStatesAndFiniteGradients()
    {
        torch.manual_seed(3);
        using var scope = NewDisposeScope();
        using var extractor = new InterestExtractor(3, 2);

        var allEmpty = extractor.call(randn(2, 3, 3), Mask(new[] { 0, 0 }, 3), new[] { 0, 0 });
        allEmpty.shape.Should().Equal(2, 3, 2);
        allEmpty.count_nonzero().item<long>().Should().Be(0);

        int[] lengths = { 0, 2 };
        var x = randn(2, 3, 3).requires_grad_();
        var output = extractor.call(x, Mask(lengths, 3), lengths);
        output[0].count_nonzero().item<long>().Should().Be(0);
        output[1, 0].count_nonzero().item<long>().Should().BeGreaterThan(0);
        output.sum().backward();
        extractor.parameters().Should().OnlyContain(p => p.grad!.isfinite().all().item<bool>());
        x.grad!.isfinite().all().item<bool>().Should().BeTrue();
        x.grad![0].count_nonzero().item<long>().Should().Be(0);
    }

    [Fact]
    public void BadInputIsRejectedWithItsName()
    {
        using var scope = NewDisposeScope();
        using var extractor = new InterestExtractor(3, 2);
        var x = randn(2, 3, 3);
        var mask = Mask(new[] { 1, 1 }, 3);
        extractor.Invoking(e => e.call(x, mask, new[] { 1, 4 })).Should().Throw<ArgumentException>().WithMessage("*lengths[1] = 4*");
        extractor.Invoking(e => e.call(x, mask, new[] { 1 })).Should().Throw<ArgumentException>().WithMessage("*lengths*");
        extractor.Invoking(e => e.call(randn(2, 3, 4), mask, new[] { 1, 1 })).Should().Throw<ArgumentException>().WithMessage("*behaviours*");
        extractor.Invoking(e => e.call(x, ones(2, 3), new[] { 1, 1 })).Should().Throw<ArgumentException>().WithMessage("*mask*");
    }

    private static (Tensor Output, Tensor[] ParameterGrads, Tensor InputGrad) Run(
        InterestExtractor extractor, Tensor x, Tensor mask, int[] lengths, Tensor weights)
    {
        extractor.zero_grad();
        var input = x.detach().clone().requires_grad_();
        var output = extractor.call(input, mask, lengths);
        (output * weights).sum().backward();
        return (output.detach(), extractor.parameters().Select(p => p.grad!.clone()).ToArray(), input.grad!.clone());
    }
}
