using Dien.Data;
using Dien.Data.Batching;
using Dien.Data.Synthetic;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Data;

public sealed class SyntheticGeneratorTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void DefaultsAreTheBenchmarkWorkloadAndIdsStayInRange()
    {
        var options = new SyntheticOptions();
        var split = SyntheticGenerator.Generate(options);
        split.Train.Should().HaveCount(16_000);
        split.Test.Should().HaveCount(4_000);
        var all = split.Train.Concat(split.Test).ToList();
        all.Should().OnlyContain(s => s.HistoryLength >= 5 && s.HistoryLength <= 50);
        all.SelectMany(s => s.HistoryItems.Append(s.TargetItem)).Should().OnlyContain(i => i >= 1 && i <= 1000);
        all.Should().OnlyContain(s => s.TargetCategory == SyntheticGenerator.CategoryOf(s.TargetItem, options));
        all.Should().OnlyContain(s => s.HistoryItems.Select(i => SyntheticGenerator.CategoryOf(i, options)).SequenceEqual(s.HistoryCategories));
        all.Select(s => s.HistoryCategories.Max()).Max().Should().Be(50);
        all.Average(s => (double)s.Label).Should().BeInRange(0.25, 0.6);
        foreach (var batch in new Batcher(new BatcherOptions { BatchSize = 128 }).Batches(split.Test))
        {
            batch.Validate();
        }
    }

    [Fact]
    public void SameSeedGivesIdenticalSamplesAndAnotherSeedDiffers()
    {
        var options = new SyntheticOptions { Samples = 500 };
        var a = SyntheticGenerator.Generate(options);
        var b = SyntheticGenerator.Generate(options);
        a.Train.Should().BeEquivalentTo(b.Train, o => o.WithStrictOrdering());
        a.Test.Should().BeEquivalentTo(b.Test, o => o.WithStrictOrdering());
        var c = SyntheticGenerator.Generate(options.With(o => o.Seed = options.Seed + 1));
        c.Train.Select(s => s.TargetItem).Should().NotEqual(a.Train.Select(s => s.TargetItem));
    }

    [Fact]
    public void ClicksFollowRecentInterestNotTheOverallMix()
    {
        var options = new SyntheticOptions { Samples = 6000 };
        var all = SyntheticGenerator.Generate(options).Train;
        bool Recent(Sample s) => s.HistoryCategories.TakeLast(options.RecentWindow).Contains(s.TargetCategory);
        bool OldOnly(Sample s) => !Recent(s) && s.HistoryCategories.Contains(s.TargetCategory);
        double recent = all.Where(Recent).Average(s => (double)s.Label);
        double old = all.Where(OldOnly).Average(s => (double)s.Label);
        recent.Should().BeGreaterThan(0.85);
        old.Should().BeLessThan(0.15);
        // Old interests are common targets, and within them the share of the history in the target's
        // category (what sum pooling sees) is as high as for some clicked targets: recency, not the mix, decides.
        all.Count(OldOnly).Should().BeGreaterThan(all.Count / 5);
        double Share(Sample s) => s.HistoryCategories.Count(c => c == s.TargetCategory) / (double)s.HistoryLength;
        all.Where(OldOnly).Average(Share).Should().BeGreaterThan(0.1);
    }

    [Fact]
    public void ARecencyScoreRanksClicksBetterThanTheHistoryMix()
    {
        var options = new SyntheticOptions { Samples = 6000 };
        var test = SyntheticGenerator.Generate(options).Train;
        // What a model following the evolution can learn vs. what sum pooling sees (the category mix).
        double recency = Auc(test, s => s.HistoryCategories.TakeLast(options.RecentWindow).Count(c => c == s.TargetCategory));
        double mix = Auc(test, s => s.HistoryCategories.Count(c => c == s.TargetCategory) / (double)s.HistoryLength);
        output.WriteLine($"AUC of recency score {recency:F4}, of history-mix score {mix:F4}");
        recency.Should().BeGreaterThan(0.85);
        recency.Should().BeGreaterThan(mix + 0.05);
    }

    private static double Auc(IReadOnlyList<Sample> samples, Func<Sample, double> score)
    {
        // Mann-Whitney U with average ranks for ties.
        var ranked = samples.Select(s => (Score: score(s), s.Label)).OrderBy(p => p.Score).ToArray();
        double positiveRanks = 0;
        for (int i = 0; i < ranked.Length;)
        {
            int j = i;
            while (j < ranked.Length && ranked[j].Score == ranked[i].Score)
            {
                j++;
            }

            double rank = ((i + 1) + j) / 2.0;
            for (int k = i; k < j; k++)
            {
                positiveRanks += ranked[k].Label == 1 ? rank : 0;
            }

            i = j;
        }

        long positives = ranked.Count(p => p.Label == 1);
        long negatives = ranked.Length - positives;
        return (positiveRanks - (positives * (positives + 1) / 2.0)) / (positives * (double)negatives);
    }

    [Fact]
    public void BadOptionsAreNamed()
    {
        var act = () => SyntheticGenerator.Generate(new SyntheticOptions { MinHistoryLength = 10, MaxHistoryLength = 5 });
        act.Should().Throw<DataOptionsException>().WithMessage("*MaxHistoryLength = 5*");
    }
}
