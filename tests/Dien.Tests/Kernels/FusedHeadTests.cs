using Dien.Head;
using Dien.Kernels.Head;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Kernels;

/// <summary><see cref="FusedHead"/>: the values and every gradient of libtorch's linear and prelu layers.</summary>
public sealed class FusedHeadTests
{
    [Theory]
    [InlineData(ScalarType.Float64, 9, 11, new[] { 7, 5 }, 1, 1e-12)] // widths not a whole number of registers
    [InlineData(ScalarType.Float64, 1, 16, new[] { 13 }, 2, 1e-12)] // one row, a softmax's two logits
    [InlineData(ScalarType.Float64, 4, 6, new int[0], 1, 1e-12)] // the output layer alone
    [InlineData(ScalarType.Float32, 128, 180, new[] { 200, 80 }, 2, 2e-5)] // W's head
    public void Values_and_gradients_equal_libtorch_layers(ScalarType dtype, int rows, int input, int[] hidden, int outputs, double tolerance)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(seed: 7);
        Tensor Draw(params long[] shape) => (randn(shape, dtype: dtype, generator: generator) * 0.5).requires_grad_();
        var x = Draw(rows, input);
        var weights = new List<Tensor>();
        var biases = new List<Tensor>();
        var slopes = new List<Tensor>();
        long width = input;
        foreach (int n in hidden)
        {
            weights.Add(Draw(n, width));
            biases.Add(Draw(n));
            slopes.Add(Draw(n));
            width = n;
        }

        var outputWeight = Draw(outputs, width);
        var outputBias = Draw(outputs);
        var upstream = randn(new long[] { rows, outputs }, dtype: dtype, generator: generator);
        var all = new List<Tensor> { x };
        all.AddRange(weights.Concat(biases).Concat(slopes));
        all.Add(outputWeight);
        all.Add(outputBias);

        var fused = FusedHead.TryApply(x, weights, biases, slopes, outputWeight, outputBias)!;
        fused.Should().NotBeNull("the kernel takes these layers");
        (fused * upstream).sum().backward();
        var fusedGradients = all.Select(t => t.grad!.clone()).ToList();
        foreach (var t in all)
        {
            t.grad!.zero_();
        }

        var a = x;
        for (int j = 0; j < hidden.Length; j++)
        {
            a = nn.functional.prelu(nn.functional.linear(a, weights[j], biases[j]), slopes[j]);
        }

        var expected = nn.functional.linear(a, outputWeight, outputBias);
        (expected * upstream).sum().backward();

        Relative(fused, expected).Should().BeLessThan(tolerance, "the logits");
        for (int i = 0; i < all.Count; i++)
        {
            Relative(fusedGradients[i], all[i].grad!).Should().BeLessThan(tolerance, $"the gradient of argument {i} {string.Join("x", all[i].shape)}");
            all[i].grad!.abs().sum().to_type(ScalarType.Float64).item<double>().Should().BeGreaterThan(0);
        }
    }

    [Theory]
    [InlineData(HeadOutput.Sigmoid)]
    [InlineData(HeadOutput.Softmax)]
    public void The_head_trains_through_the_kernel_as_through_libtorch(HeadOutput output)
    {
        // The whole head, its BatchNorm included, with and without the kernel: the same click logits and parameter gradients.
        using var scope = NewDisposeScope();
        var results = new List<(Tensor Logit, List<Tensor> Gradients)>();
        foreach (bool fused in new[] { true, false })
        {
            torch.manual_seed(5);
            using var head = new MlpHead(12, new List<int> { 9, 4 }, HeadActivation.PRelu, batchNorm: true, dropout: 0, output) { UseFusedKernels = fused };
            head.to(ScalarType.Float64);
            head.train();
            var x = randn(new long[] { 10, 12 }, dtype: ScalarType.Float64, generator: new Generator(seed: 3));
            var logit = head.call(x);
            (logit * logit).sum().backward();
            results.Add((logit.detach().clone(), head.parameters().Select(p => p.grad!.clone()).ToList()));
        }

        Relative(results[0].Logit, results[1].Logit).Should().BeLessThan(1e-12);
        results[0].Gradients.Should().HaveCount(results[1].Gradients.Count);
        for (int i = 0; i < results[0].Gradients.Count; i++)
        {
            Relative(results[0].Gradients[i], results[1].Gradients[i]).Should().BeLessThan(1e-12, $"parameter {i}");
        }
    }

    [Fact]
    public void Without_a_gradient_or_with_layers_that_do_not_fit_the_kernel_leaves_the_call_to_libtorch()
    {
        using var scope = NewDisposeScope();
        var x = randn(3, 4);
        var weights = new List<Tensor> { randn(5, 4).requires_grad_() };
        var biases = new List<Tensor> { randn(5) };
        var slopes = new List<Tensor> { randn(5) };
        FusedHead.TryApply(x, weights, biases, slopes, randn(1, 5), randn(1)).Should().NotBeNull();
        FusedHead.TryApply(x, weights, biases, slopes, randn(3, 5), randn(3)).Should().BeNull("three logits");
        FusedHead.TryApply(x, weights, biases, new List<Tensor> { randn(1) }, randn(1, 5), randn(1)).Should().BeNull("one shared slope");
        FusedHead.TryApply(x, weights, biases, slopes, randn(1, 6), randn(1)).Should().BeNull("the output layer's width");
        FusedHead.TryApply(x, weights, biases, slopes, randn(1, 5), null).Should().BeNull("no output bias");
        FusedHead.TryApply(x.to(ScalarType.Float64), weights, biases, slopes, randn(1, 5), randn(1)).Should().BeNull("two dtypes");
        using (no_grad())
        {
            FusedHead.TryApply(x, weights, biases, slopes, randn(1, 5), randn(1)).Should().BeNull("no gradient wanted");
        }
    }

    private static double Relative(Tensor actual, Tensor expected)
        => ((actual - expected).abs().max() / expected.abs().max().clamp_min(1e-30)).to_type(ScalarType.Float64).item<double>();
}
