using Dien.Auxiliary;
using Dien.Evolution;
using Dien.Extractor;
using Dien.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static Dien.Tests.TestKit;
using static TorchSharp.torch;

namespace Dien.Tests.Extractor;

/// <summary>Repeated training steps through the recurrent parts leave no live tensor behind.</summary>
[Collection("Sequential")]
public sealed class RecurrentMemoryTests
{
    [Theory]
    [InlineData(EvolutionVariant.Augru)]
    [InlineData(EvolutionVariant.Gru)]
    public void LiveTensorCountStaysFlatAcrossBatches(EvolutionVariant variant)
    {
        torch.manual_seed(53);
        using var extractor = new InterestExtractor(4, 4);
        using var evolution = new InterestEvolution(4, 4, variant);
        using var auxiliary = new NextBehaviourAuxiliaryLoss(4, 4, AuxiliaryScorer.Mlp, new List<int> { 8, 4 });
        int[] lengths = { 5, 2, 0, 3 };
        var counts = new List<long>();
        for (int i = 0; i < 4; i++)
        {
            using (var scope = NewDisposeScope())
            {
                var mask = Mask(lengths, 6);
                var behaviours = randn(4, 6, 4);
                var states = extractor.call(behaviours, mask, lengths);
                var attention = softmax(randn(4, 6).masked_fill(mask.logical_not(), double.NegativeInfinity), 1).nan_to_num(0.0);
                var interest = evolution.call(states, attention, mask, lengths);
                var loss = interest.pow(2).mean() + auxiliary.call(states, behaviours, randn(4, 6, 4), mask);
                loss.backward();
            }

            extractor.zero_grad();
            evolution.zero_grad();
            auxiliary.zero_grad();
            counts.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        }

        counts.Skip(1).Should().AllBeEquivalentTo(counts[0], "live tensors per batch: {0}", string.Join(", ", counts));
    }
}
