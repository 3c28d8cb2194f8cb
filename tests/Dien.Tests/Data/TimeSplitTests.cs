using System.Globalization;
using Dien.Data;
using Dien.Data.Converters;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Data;

/// <summary>
/// <see cref="ConversionOptions.SplitByTime"/>: training targets fall before the validation slice, validation targets
/// in it, test targets after the cut, and no history holds an event after its target; checked on every pair.
/// </summary>
public sealed class TimeSplitTests
{
    [Theory]
    [InlineData(TrainingTargets.EveryBehaviour, null)]
    [InlineData(TrainingTargets.EveryBehaviour, 4)]
    [InlineData(TrainingTargets.LastBehaviour, 100)]
    public void No_history_holds_an_event_after_its_target(TrainingTargets targets, int? maxHistory)
    {
        // Every event has its own item, so each pair's target and history items name their events and times.
        var random = new Random(3);
        var rows = new List<(string User, long Item, long Time)>();
        for (int u = 0; u < 40; u++)
        {
            long time = 1_511_500_000 + random.Next(86_400 * 4);
            for (int e = 0; e < 5 + random.Next(25); e++)
            {
                time += random.Next(4) == 0 ? 0 : random.Next(1, 20_000);
                rows.Add(($"u{u}", rows.Count + 1, time));
            }
        }

        var shuffled = rows.OrderBy(_ => random.Next()).ToList();
        using var folder = new TempFolder();
        string csv = folder.File("log.csv", "user,item,time\n" + string.Concat(shuffled.Select(r => $"{r.User},{r.Item},{r.Time}\n")));
        var cut = DateTimeOffset.FromUnixTimeSeconds(1_511_500_000 + (86_400 * 4));
        var split = TimeSplit.At(cut) with { ValidationFraction = 0.2 };
        var data = EventLogConverter.Convert(csv, EventColumns.Parse("user=user,item=item,time=time"),
            new ConversionOptions { SplitByTime = split, TrainingTargets = targets, MaxHistoryLength = maxHistory });

        // Validation: the latest 20% of the events before the cut.
        long cutMs = cut.ToUnixTimeMilliseconds();
        var training = rows.Select(r => r.Time * 1000).Where(t => t < cutMs).Order().ToList();
        long validationCut = training[training.Count - (int)Math.Round(0.2 * training.Count)];
        var byItem = shuffled.Select((r, fileOrder) => (r.User, r.Item, Time: r.Time * 1000, fileOrder)).ToDictionary(r => r.Item);
        var ofUser = byItem.Values.GroupBy(r => r.User).ToDictionary(g => g.Key, g => g.OrderBy(r => r.Time).ThenBy(r => r.fileOrder).Select(r => r.Item).ToList());
        long EventOf(long id) => long.Parse(data.Items.Entries.Single(e => e.Value == id).Key, CultureInfo.InvariantCulture);

        int pairs = 0;
        foreach (var (part, from, to) in new[] { (data.Train, long.MinValue, validationCut), (data.Validation, validationCut, cutMs), (data.Test, cutMs, long.MaxValue) })
        {
            part.Should().NotBeEmpty();
            for (int i = 0; i < part.Count; i++)
            {
                // A negative precedes its positive and shares its history.
                var pair = part[i];
                var positive = pair.Label == 1 ? pair : part[i + 1];
                positive.Label.Should().Be(1);
                var target = byItem[EventOf(positive.TargetItem)];
                target.Time.Should().BeGreaterThanOrEqualTo(from).And.BeLessThan(to);
                var history = pair.HistoryItems.Select(EventOf).ToList();
                history.Where(h => byItem[h].Time > target.Time).Should().BeEmpty("no history holds a later event");
                history.Where(h => byItem[h].User != target.User).Should().BeEmpty("a history is its user's");

                // Everything before the target, in time order (ties in file order), cut to the most recent.
                var before = ofUser[target.User].TakeWhile(item => item != target.Item).ToList();
                history.Should().Equal(before.Skip(Math.Max(0, before.Count - (maxHistory ?? int.MaxValue))));
                pairs++;
            }
        }

        pairs.Should().Be(data.Train.Count + data.Validation.Count + data.Test.Count);
        int after = rows.Count(r => r.Time * 1000 >= cutMs);
        data.Test.Count(s => s.Label == 1).Should().Be(after, "every event after the cut is a test target");
        data.Validation.Count(s => s.Label == 1).Should().Be(rows.Count(r => r.Time * 1000 >= validationCut && r.Time * 1000 < cutMs));
        if (targets == TrainingTargets.LastBehaviour)
        {
            data.Train.Where(s => s.Label == 1).Select(s => s.User).Should().OnlyHaveUniqueItems("one training pair per user");
        }
    }

    [Fact]
    public void MovieLens_and_Taobao_split_by_time_too()
    {
        using var folder = new TempFolder();
        string movies = folder.File("movies.csv", "movieId,title,genres\n1,A,Drama\n2,B,Comedy\n3,C,Action\n4,D,Drama\n");
        string ratings = folder.File("ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,10\n1,2,3.0,20\n1,3,5.0,100\n2,2,5.0,15\n2,4,1.0,90\n2,1,2.0,95\n");
        var data = MovieLensConverter.Convert(ratings, movies, new ConversionOptions { SplitByTime = TimeSplit.At(DateTimeOffset.FromUnixTimeSeconds(90)) with { ValidationFraction = 0 } });
        data.Test.Where(s => s.Label == 1).Select(s => (s.User, s.TargetItem, s.HistoryLength)).Should().Equal(
            (data.Users.IdOf("1"), data.Items.IdOf("3"), 2), (data.Users.IdOf("2"), data.Items.IdOf("4"), 1), (data.Users.IdOf("2"), data.Items.IdOf("1"), 2));
        data.Train.Where(s => s.Label == 1).Should().HaveCount(3, "the users' events before the cut");
        data.Validation.Should().BeEmpty();
        data.Test.Single(s => s.Label == 1 && s.TargetItem == data.Items.IdOf("1")).HistoryLabels.Should().Equal(1, 0);

        string behaviour = folder.File("UserBehavior.csv", "1,10,100,pv,1\n1,11,100,buy,2\n1,12,101,pv,3\n2,10,100,pv,4\n2,13,102,pv,5\n2,14,102,cart,6\n");
        var taobao = TaobaoConverter.Convert([behaviour], new ConversionOptions { SplitByTime = TimeSplit.At(DateTimeOffset.FromUnixTimeSeconds(3)) with { ValidationFraction = 0 } });
        taobao.Test.Where(s => s.Label == 1).Select(s => s.TargetItem).Should().Equal([taobao.Items.IdOf("12"), taobao.Items.IdOf("10"), taobao.Items.IdOf("13")], "every page view after the cut");
        taobao.Train.Where(s => s.Label == 1).Select(s => s.TargetItem).Should().Equal(taobao.Items.IdOf("10"));
    }

    [SkippableFact]
    public void MovieLensLatestSmall_by_time_leaks_no_future_event()
    {
        string? folder = SharedData.Folder("movielens-latest-small", out string reason);
        Skip.If(folder is null, reason);
        string ratings = Path.Combine(folder, "ratings.csv");
        var data = MovieLensConverter.Convert(ratings, Path.Combine(folder, "movies.csv"), new ConversionOptions { SplitByTime = TimeSplit.Parse("last365d") });
        var timeOf = new Dictionary<(string User, string Movie), long>();
        foreach (string line in File.ReadLines(ratings).Skip(1))
        {
            var f = line.Split(',');
            timeOf[(f[0], f[1])] = long.Parse(f[3], CultureInfo.InvariantCulture);
        }

        var userKey = data.Users.Entries.ToDictionary(e => (long)e.Value, e => e.Key);
        var movieKey = data.Items.Entries.ToDictionary(e => (long)e.Value, e => e.Key);
        var (trainEnd, validationEnd, last) = (long.MinValue, long.MinValue, timeOf.Values.Max());
        long Bound(IReadOnlyList<Sample> part, bool max)
        {
            long bound = max ? long.MinValue : long.MaxValue;
            for (int i = 0; i < part.Count; i++)
            {
                var positive = part[i].Label == 1 ? part[i] : part[i + 1];
                string user = userKey[positive.User];
                long target = timeOf[(user, movieKey[positive.TargetItem])];
                foreach (long item in part[i].HistoryItems)
                {
                    timeOf[(user, movieKey[item])].Should().BeLessThanOrEqualTo(target, "a history holds only events before its target");
                }

                bound = max ? Math.Max(bound, target) : Math.Min(bound, target);
            }

            return bound;
        }

        trainEnd = Bound(data.Train, max: true);
        Bound(data.Validation, max: false).Should().BeGreaterThan(trainEnd);
        validationEnd = Bound(data.Validation, max: true);
        Bound(data.Test, max: false).Should().BeGreaterThan(validationEnd).And.BeGreaterThanOrEqualTo(last - (365 * 86_400));
        data.Test.Select(s => s.User).Distinct().Should().Contain(u => data.Train.Any(s => s.User == u), "users are seen on both sides of a time split");
    }
}
