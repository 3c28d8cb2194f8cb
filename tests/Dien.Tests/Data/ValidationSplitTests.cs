using System.Globalization;
using Dien.Data;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Data;

public sealed class ValidationSplitTests
{
    /// <summary>Samples of <paramref name="users"/> users with 1..4 samples each, users interleaved; TargetItem numbers the samples in order.</summary>
    private static List<Sample> Samples(int users, int seed = 7)
    {
        var random = new Random(seed);
        var owners = new List<long>();
        for (long user = 1; user <= users; user++)
        {
            owners.AddRange(Enumerable.Repeat(user * 10, random.Next(1, 5)));
        }

        random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(owners));
        return owners.Select((user, i) => new Sample
        {
            Label = i % 2,
            User = user,
            TargetItem = i,
            TargetCategory = 1,
            HistoryItems = [1, 2],
            HistoryCategories = [1, 1],
        }).ToList();
    }

    private static HashSet<long> Users(IEnumerable<Sample> samples) => samples.Select(s => s.User).ToHashSet();

    [Fact]
    public void TheTwoPartsHaveNoUserInCommon()
    {
        var split = ValidationSplit.ByUser(Samples(50), 0.2, seed: 1);

        split.Validation.Should().NotBeEmpty();
        Users(split.Train).Overlaps(Users(split.Validation)).Should().BeFalse();
    }

    [Fact]
    public void EverySampleLandsInExactlyOnePartInItsOriginalOrder()
    {
        var samples = Samples(50);

        var split = ValidationSplit.ByUser(samples, 0.3, seed: 2);

        split.Train.Count.Should().Be(samples.Count - split.Validation.Count);
        split.Train.Concat(split.Validation).Select(s => s.TargetItem).Should().BeEquivalentTo(samples.Select(s => s.TargetItem));
        split.Train.Should().Equal(samples.Where(s => Users(split.Train).Contains(s.User)), "the kept part keeps the input order");
        split.Validation.Should().Equal(samples.Where(s => Users(split.Validation).Contains(s.User)), "the held-out part keeps the input order");
        split.Train.Select(s => s.TargetItem).Should().BeInAscendingOrder();
        split.Validation.Select(s => s.TargetItem).Should().BeInAscendingOrder();
    }

    [Theory]
    [InlineData(37, 0.1, 4)] // 3.7 rounds to 4
    [InlineData(37, 0.3, 11)] // 11.1 rounds to 11
    [InlineData(37, 0.01, 1)] // 0.37 rounds to 0, but a positive fraction holds out at least one user
    [InlineData(37, 0.99, 36)] // 36.63 rounds to 37, but at least one user is kept
    [InlineData(1, 0.5, 0)] // one user cannot be divided
    public void TheShareOfHeldOutUsersIsTheRoundedFraction(int users, double fraction, int expected)
    {
        var samples = Samples(users);

        var split = ValidationSplit.ByUser(samples, fraction, seed: 3);

        Users(split.Validation).Should().HaveCount(expected);
        Users(split.Train).Should().HaveCount(users - expected);
    }

    [Fact]
    public void OneSeedGivesOneSplitAndAnotherSeedAnother()
    {
        var samples = Samples(60);

        var first = ValidationSplit.ByUser(samples, 0.2, seed: 11);
        var again = ValidationSplit.ByUser(samples, 0.2, seed: 11);
        var other = ValidationSplit.ByUser(samples, 0.2, seed: 12);

        again.Validation.Should().Equal(first.Validation);
        again.Train.Should().Equal(first.Train);
        Users(other.Validation).Should().HaveCount(Users(first.Validation).Count);
        Users(other.Validation).SetEquals(Users(first.Validation)).Should().BeFalse("another seed draws other users");
    }

    [Fact]
    public void AFractionOfZeroHoldsOutNothing()
    {
        var samples = Samples(20);

        var split = ValidationSplit.ByUser(samples, 0, seed: 4);

        split.Validation.Should().BeEmpty();
        split.Train.Should().Equal(samples);
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.0)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void AFractionOutsideZeroToOneThrowsNamingTheValue(double fraction)
    {
        var act = () => ValidationSplit.ByUser(Samples(10), fraction, seed: 5);

        var thrown = act.Should().Throw<ArgumentOutOfRangeException>().Which;
        thrown.ParamName.Should().Be("fraction");
        thrown.ActualValue.Should().Be(fraction);
        thrown.Message.Should().Contain(fraction.ToString(CultureInfo.CurrentCulture)).And.Contain("[0, 1)");
    }

    [Fact]
    public void NullSamplesThrow()
    {
        var act = () => ValidationSplit.ByUser(null!, 0.1, seed: 1);

        act.Should().Throw<ArgumentNullException>().WithParameterName("samples");
    }

    [Fact]
    public void LastPerUserKeepsEachHeldOutUsersLongestHistorySamplesOnly()
    {
        // Two users in the authors' layout: prefix pairs with growing histories, the final pair last.
        static Sample Line(long user, int length, float label) => new()
        {
            Label = label,
            User = user,
            TargetItem = (user * 100) + (length * 2) + (long)label,
            TargetCategory = 1,
            HistoryItems = Enumerable.Range(1, length).Select(i => (long)i).ToArray(),
            HistoryCategories = Enumerable.Repeat(1L, length).ToArray(),
        };
        var train = new List<Sample> { Line(9, 2, 0), Line(9, 2, 1) };
        var validation = new List<Sample>
        {
            Line(1, 2, 0), Line(1, 2, 1), Line(2, 2, 0), Line(2, 2, 1), Line(1, 3, 0), Line(1, 3, 1), Line(1, 4, 0), Line(1, 4, 1),
        };

        var last = new ValidationSplit(train, validation).LastPerUser();

        last.Train.Should().BeSameAs(train);
        last.Validation.Select(s => (s.User, s.HistoryItems.Length, s.Label)).Should().Equal(
            [(2L, 2, 0f), (2L, 2, 1f), (1L, 4, 0f), (1L, 4, 1f)],
            "user 1's longest history has 4 items and user 2's has 2, and the original order is kept");
    }
}
