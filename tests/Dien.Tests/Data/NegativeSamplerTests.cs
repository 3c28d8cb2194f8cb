using Dien.Data.Batching;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Data;

public sealed class NegativeSamplerTests
{
    [Fact]
    public void NeverReturnsThePositiveEvenWhenItDominatesThePool()
    {
        // Item 1 holds 999 of 1000 occurrences.
        var pool = Enumerable.Repeat((1L, 10L), 999).Append((2L, 20L));
        var sampler = new NegativeSampler(pool, NegativeSampling.Popularity);
        var random = new Random(1);
        for (int i = 0; i < 200; i++)
        {
            sampler.Draw(1, random).Should().Be((2L, 20L));
        }
    }

    [Fact]
    public void PopularityWeightingFollowsCountsAndUniformIgnoresThem()
    {
        // Item 1 x1, item 2 x3, item 3 x6; positive 99 never in the pool.
        var pool = new[] { (1L, 1L) }.Concat(Enumerable.Repeat((2L, 1L), 3)).Concat(Enumerable.Repeat((3L, 2L), 6)).ToArray();
        var popular = Histogram(new NegativeSampler(pool, NegativeSampling.Popularity));
        popular[1].Should().BeInRange(0.08, 0.12);
        popular[2].Should().BeInRange(0.27, 0.33);
        popular[3].Should().BeInRange(0.57, 0.63);
        var uniform = Histogram(new NegativeSampler(pool, NegativeSampling.Uniform));
        uniform.Values.Should().OnlyContain(p => p > 0.30 && p < 0.37);
    }

    [Fact]
    public void SameSeedSameDrawsAndTinyPoolIsRejected()
    {
        var sampler = new NegativeSampler(Enumerable.Range(1, 100).Select(i => ((long)i, 0L)));
        var a = Enumerable.Range(0, 50).Select(i => sampler.Draw(i, new Random(7 + i)).Item).ToList();
        var b = Enumerable.Range(0, 50).Select(i => sampler.Draw(i, new Random(7 + i)).Item).ToList();
        a.Should().Equal(b);
        var act = () => new NegativeSampler([(4L, 1L), (4L, 1L)]);
        act.Should().Throw<ArgumentException>().WithMessage("*1 distinct item*");
    }

    private static Dictionary<long, double> Histogram(NegativeSampler sampler)
    {
        var random = new Random(11);
        const int Draws = 20_000;
        return Enumerable.Range(0, Draws).Select(_ => sampler.Draw(99, random).Item).GroupBy(i => i).ToDictionary(g => g.Key, g => g.Count() / (double)Draws);
    }
}
