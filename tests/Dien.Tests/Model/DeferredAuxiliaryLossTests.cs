using Dien.Attention;
using Dien.Data.Batching;
using Dien.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Model;

/// <summary>
/// <see cref="CtrModel.DefersAuxiliaryLoss"/>: the fused auxiliary loss left running into the backward gives the same
/// losses and gradients as the one joined in the forward, its values once <see cref="CtrOutput.CompleteDeferred"/> has
/// run; a model outside the trainer does not defer, and an output disposed without a backward waits for its kernel.
/// </summary>
[Collection("Sequential")]
public sealed class DeferredAuxiliaryLossTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Deferred_to_the_backward_the_auxiliary_loss_gives_the_joined_losses_and_gradients(int threads)
    {
        TestKit.WithLibTorchThreads(threads, () =>
        {
            torch.manual_seed(3);
            var options = ModelTestKit.TinyOptions(AttentionForm.Mlp);
            options.EmbeddingL2 = 1e-3;
            using var model = new DienModel(options);
            model.train();
            var arrays = Batch();
            var joined = Step(model, arrays, defer: false);
            var deferred = Step(model, arrays, defer: true);

            deferred.AuxiliaryBeforeBackward.Should().Be(0, "the loss is not known before the backward has waited for its kernel");
            joined.Auxiliary.Should().BeGreaterThan(0);
            deferred.Auxiliary.Should().Be(joined.Auxiliary, "the same kernel over the same pairs");
            deferred.Target.Should().Be(joined.Target);
            deferred.Loss.Should().Be(joined.Loss, "the loss is summed again in the forward's order");
            deferred.Gradients.Keys.Should().BeEquivalentTo(joined.Gradients.Keys);
            foreach (var (name, expected) in joined.Gradients)
            {
                // The states' gradient adds the auxiliary term at another place among the others: float rounding only.
                deferred.Gradients[name].Zip(expected, (a, b) => Math.Abs(a - b)).DefaultIfEmpty().Max().Should().BeLessThan(1e-5f, name);
            }

            joined.Gradients["auxiliary.layers.0.weight"].Should().Contain(g => g != 0, "the auxiliary loss reaches its scorer");
        });
    }

    [Fact]
    public void A_model_called_outside_the_trainer_joins_the_auxiliary_loss_in_the_forward()
    {
        torch.manual_seed(3);
        using var model = new DienModel(ModelTestKit.TinyOptions(AttentionForm.Mlp));
        model.train();
        model.DefersAuxiliaryLoss.Should().BeFalse();
        using var scope = NewDisposeScope();
        using var batch = new BehaviourBatch(Batch());
        using var output = model.call(batch);
        output.AuxiliaryLoss!.item<float>().Should().BeGreaterThan(0, "the value is there as soon as the forward returns");
    }

    [Fact]
    public void An_output_disposed_without_a_backward_waits_for_its_kernel_and_the_model_goes_on()
    {
        TestKit.WithLibTorchThreads(2, () =>
        {
            torch.manual_seed(3);
            using var model = new DienModel(ModelTestKit.TinyOptions(AttentionForm.Mlp));
            model.train();
            var arrays = Batch();
            var before = Step(model, arrays, defer: false);
            model.DefersAuxiliaryLoss = true;
            for (int call = 0; call < 5; call++)
            {
                using var scope = NewDisposeScope();
                using var batch = new BehaviourBatch(arrays);
                model.call(batch).Dispose();
            }

            var after = Step(model, arrays, defer: true);
            after.Loss.Should().Be(before.Loss, "abandoned forwards leave the model and the next step as they were");
        });
    }

    private static BatchArrays Batch()
    {
        // Enough pairs (> 2 x 128) for the auxiliary kernel to start on a helper on two workers.
        var random = new Random(9);
        return ModelTestKit.Arrays(Enumerable.Range(0, 64).Select(_ => random.Next(3, 13)).ToArray(), 12, seed: 5);
    }

    private static Result Step(DienModel model, BatchArrays arrays, bool defer)
    {
        using var scope = NewDisposeScope();
        model.DefersAuxiliaryLoss = defer;
        try
        {
            model.zero_grad();
            using var batch = new BehaviourBatch(arrays);
            using var output = model.call(batch);
            float before = output.AuxiliaryLoss!.item<float>();
            output.Loss!.backward();
            output.CompleteDeferred();
            var gradients = model.named_parameters().ToDictionary(
                p => p.name,
                p => p.parameter.grad is null ? new float[p.parameter.numel()] : p.parameter.grad.data<float>().ToArray());
            return new Result(before, output.AuxiliaryLoss.item<float>(), output.TargetLoss!.item<float>(), output.Loss.item<float>(), gradients);
        }
        finally
        {
            model.DefersAuxiliaryLoss = false;
        }
    }

    private sealed record Result(float AuxiliaryBeforeBackward, float Auxiliary, float Target, float Loss, Dictionary<string, float[]> Gradients);
}
