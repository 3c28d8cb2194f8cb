using Dien.Data.Batching;
using Dien.Evolution;
using Dien.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Model;

/// <summary>
/// The fused CPU kernels and the step-by-step libtorch composition are two routes to the same model:
/// the same weights must give the same outputs, losses and gradients through either.
/// </summary>
[Collection("Sequential")]
public sealed class FusedPathTests
{
    [Theory]
    [InlineData(EvolutionVariant.Augru)]
    [InlineData(EvolutionVariant.AugruAuthorsCode)]
    [InlineData(EvolutionVariant.Agru)]
    [InlineData(EvolutionVariant.Aigru)]
    [InlineData(EvolutionVariant.Gru)]
    public void FusedAndStepwiseModelsAgreeOnOutputsLossesAndGradients(EvolutionVariant variant)
    {
        var fusedOptions = ModelTestKit.TinyOptions(evolution: variant);
        var stepwiseOptions = ModelTestKit.TinyOptions(evolution: variant);
        stepwiseOptions.UseFusedKernels = false;
        torch.manual_seed(11);
        using var fused = new DienModel(fusedOptions);
        using var stepwise = new DienModel(stepwiseOptions);
        stepwise.load_state_dict(fused.state_dict());
        fused.to(ScalarType.Float64);
        stepwise.to(ScalarType.Float64);
        using var batch = new DienBatch(ModelTestKit.Arrays([4, 1, 0, 6, 2], 7, seed: 3));

        using var a = fused.call(batch);
        using var b = stepwise.call(batch);
        a.Loss!.backward();
        b.Loss!.backward();

        a.Probability.allclose(b.Probability, rtol: 1e-10, atol: 1e-12).Should().BeTrue();
        a.AuxiliaryLoss!.item<double>().Should().BeApproximately(b.AuxiliaryLoss!.item<double>(), 1e-12);
        var gradsB = stepwise.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad);
        foreach (var (name, parameter) in fused.named_parameters())
        {
            var ga = parameter.grad;
            var gb = gradsB[name];
            if (ReferenceEquals(ga, null) || ReferenceEquals(gb, null))
            {
                ReferenceEquals(ga, null).Should().Be(ReferenceEquals(gb, null), name);
                continue;
            }

            ga.allclose(gb, rtol: 1e-8, atol: 1e-10).Should().BeTrue($"the gradient of {name} must not depend on the route");
        }
    }
}
