using Dien.Auxiliary;
using Dien.Evolution;
using Dien.Extractor;
using Dien.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static Dien.Tests.TestKit;
using static TorchSharp.torch;

namespace Dien.Tests.Evolution;

/// <summary>Save/load round trips of the recurrent parts restore their outputs exactly.</summary>
[Collection("Sequential")]
public sealed class RecurrentSaveLoadTests
{
    [Fact]
    public void ExtractorEvolutionAndAuxiliaryScorerRoundTrip()
    {
        torch.manual_seed(59);
        using var scope = NewDisposeScope();
        string path = Path.Combine(Path.GetTempPath(), $"dien-recurrent-{Guid.NewGuid():N}.bin");
        int[] lengths = { 3, 1 };
        var mask = Mask(lengths, 3);
        var x = randn(2, 3, 4);
        var attention = tensor(new float[] { 0.2f, 0.5f, 0.3f, 1, 0, 0 }).reshape(2, 3);
        try
        {
            using var extractor = new InterestExtractor(4, 4);
            using var evolution = new InterestEvolution(4, 4, EvolutionVariant.AugruAuthorsCode);
            using var auxiliary = new NextBehaviourAuxiliaryLoss(4, 4, AuxiliaryScorer.Mlp, new List<int> { 5 });
            var states = extractor.call(x, mask, lengths);
            var interest = evolution.call(states, attention, mask, lengths);
            var loss = auxiliary.call(states, x, x.flip(1), mask);

            using var extractor2 = new InterestExtractor(4, 4);
            using var evolution2 = new InterestEvolution(4, 4, EvolutionVariant.AugruAuthorsCode);
            using var auxiliary2 = new NextBehaviourAuxiliaryLoss(4, 4, AuxiliaryScorer.Mlp, new List<int> { 5 });
            extractor.save(path);
            extractor2.load(path);
            evolution.save(path);
            evolution2.load(path);
            auxiliary.save(path);
            auxiliary2.load(path);

            var states2 = extractor2.call(x, mask, lengths);
            states2.allclose(states, 0, 0).Should().BeTrue();
            evolution2.call(states2, attention, mask, lengths).allclose(interest, 0, 0).Should().BeTrue();
            auxiliary2.call(states2, x, x.flip(1), mask).allclose(loss, 0, 0).Should().BeTrue();
        }
        finally
        {
            File.Delete(path);
        }
    }
}
