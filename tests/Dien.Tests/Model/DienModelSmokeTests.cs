using Dien.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Model;

[Collection("Sequential")]
public sealed class DienModelSmokeTests
{
    [Theory]
    [InlineData(EvolutionVariant.Augru, AttentionForm.Mlp)]
    [InlineData(EvolutionVariant.AugruAuthorsCode, AttentionForm.Bilinear)]
    [InlineData(EvolutionVariant.Agru, AttentionForm.Mlp)]
    [InlineData(EvolutionVariant.Aigru, AttentionForm.Bilinear)]
    [InlineData(EvolutionVariant.Gru, AttentionForm.Mlp)]
    public void ForwardAndBackwardGiveFiniteLossesAndGradients(EvolutionVariant variant, AttentionForm form)
    {
        torch.manual_seed(1);
        var options = TestBatches.TinyOptions(variant, form);
        using var model = new DienModel(options);
        using var batch = new DienBatch(TestBatches.Random(options, [3, 0, 5, 1], 6, seed: 2));
        using var output = model.call(batch);

        output.Probability.shape.Should().Equal(4);
        output.AuxiliaryLoss.Should().NotBeNull();
        output.Loss!.backward();
        float loss = output.Loss.item<float>();
        float.IsFinite(loss).Should().BeTrue();
        model.parameters().Should().OnlyContain(p => ReferenceEquals(p.grad, null) || p.grad.isfinite().all().item<bool>());
    }
}
