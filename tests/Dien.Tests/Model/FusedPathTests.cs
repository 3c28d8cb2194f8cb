using Dien.Attention;
using Dien.Auxiliary;
using Dien.Data.Batching;
using Dien.Embeddings;
using Dien.Evolution;
using Dien.Extractor;
using Dien.Head;
using Dien.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Model;

/// <summary>
/// The fused CPU kernels and the libtorch composition are two routes to the same model: the same weights must
/// give the same outputs, losses and gradients through either. <see cref="CtrModelOptions.UseFusedKernels"/> is the
/// one switch: off, no module of the model may take a fused route (recurrences, MLP attention, auxiliary scorer).
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
        // The MLP attention and the MLP auxiliary scorer, so that all four fused kernels are on the fused route.
        var options = ModelTestKit.TinyOptions(AttentionForm.Mlp, variant);
        options.AuxiliaryScorer.Should().Be(AuxiliaryScorer.Mlp);
        Compare(o => new DienModel(o), options, expectAuxiliary: true);
    }

    [Fact]
    public void The_auxiliary_loss_beside_the_target_gives_the_libtorch_routes_results_and_the_threads_back()
    {
        // Enough pairs (> 2 x 128) for the fused auxiliary kernel to start on a helper while the target is scored.
        int threads = torch.get_num_threads();
        try
        {
            torch.set_num_threads(2);
            long starts = Dien.Kernels.Primitives.KernelWorkers.BackgroundStarts;
            var random = new Random(9);
            Compare(o => new DienModel(o), ModelTestKit.TinyOptions(AttentionForm.Mlp), expectAuxiliary: true,
                lengths: Enumerable.Range(0, 64).Select(_ => random.Next(3, 13)).ToArray(), width: 12);
            torch.get_num_threads().Should().Be(2, "the model gives the helper's thread back");
            if (Environment.ProcessorCount >= 2)
            {
                Dien.Kernels.Primitives.KernelWorkers.BackgroundStarts.Should().BeGreaterThan(starts, "the auxiliary kernel runs beside the target");
            }
        }
        finally
        {
            torch.set_num_threads(threads);
        }
    }

    [Fact]
    public void FusedAndLibtorchDinModelsAgreeOnOutputsLossesAndGradients() =>
        Compare(o => new DinModel(o), ModelTestKit.TinyOptions(AttentionForm.Mlp), expectAuxiliary: false);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_one_switch_reaches_every_module_that_has_a_fused_route(bool useFusedKernels)
    {
        var options = ModelTestKit.TinyOptions(AttentionForm.Mlp);
        options.UseFusedKernels = useFusedKernels;
        using var model = new DienModel(options);

        var switches = model.modules()
            .Select(m => (Module: m, Switch: m.GetType().GetProperty("UseFusedKernels")))
            .Where(x => x.Switch is not null)
            .ToList();

        switches.Select(x => x.Module.GetType()).Should().BeEquivalentTo(
            new[] { typeof(BehaviourEmbedding), typeof(InterestExtractor), typeof(MlpAttention), typeof(InterestEvolution), typeof(NextBehaviourAuxiliaryLoss), typeof(MlpHead) });
        switches.Should().OnlyContain(x => (bool)x.Switch!.GetValue(x.Module)! == useFusedKernels);
    }

    private static void Compare(Func<CtrModelOptions, CtrModel> build, CtrModelOptions options, bool expectAuxiliary, int[]? lengths = null, int width = 7)
    {
        var libtorchOptions = options.Clone();
        libtorchOptions.UseFusedKernels = false;
        torch.manual_seed(11);
        using var fused = build(options);
        using var libtorch = build(libtorchOptions);
        libtorch.load_state_dict(fused.state_dict());
        fused.to(ScalarType.Float64);
        libtorch.to(ScalarType.Float64);
        using var batch = new BehaviourBatch(ModelTestKit.Arrays(lengths ?? [4, 1, 0, 6, 2], width, seed: 3));

        using var a = fused.call(batch);
        using var b = libtorch.call(batch);
        a.Loss!.backward();
        b.Loss!.backward();

        a.Logit.allclose(b.Logit, rtol: 1e-10, atol: 1e-12).Should().BeTrue();
        a.Probability.allclose(b.Probability, rtol: 1e-10, atol: 1e-12).Should().BeTrue();
        a.TargetLoss!.item<double>().Should().BeApproximately(b.TargetLoss!.item<double>(), 1e-12);
        a.Loss.item<double>().Should().BeApproximately(b.Loss.item<double>(), 1e-12);
        if (expectAuxiliary)
        {
            a.AuxiliaryLoss!.item<double>().Should().BeApproximately(b.AuxiliaryLoss!.item<double>(), 1e-12);
        }

        var gradsB = libtorch.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad);
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
