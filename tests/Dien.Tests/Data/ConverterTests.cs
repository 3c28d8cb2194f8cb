using Dien.Data;
using Dien.Data.Batching;
using Dien.Data.Converters;
using Dien.Data.Formats;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Data;

public sealed class ConverterTests
{
    [Fact]
    public void AmazonLastItemIsPositivePairedWithAnUnseenNegativeAndCategoryIsLastAttribute()
    {
        using var folder = new TempFolder();
        string seq = folder.File("Beauty.txt", "1 1 2 3\n2 4 1\n3 5\n");
        string attrs = folder.File("attrs.json", "{\"1\": [9, 3], \"2\": [4], \"3\": [7, 8, 2], \"4\": [1], \"5\": [], \"6\": [6]}");
        var data = AmazonSequenceConverter.Convert(seq, attrs, new ConversionOptions { TestUserFraction = 0, TrainingTargets = TrainingTargets.LastBehaviour });
        data.ItemCategories.Should().Equal(0, 3, 4, 2, 1, 0, 6);
        data.Train.Should().HaveCount(6);
        var (negative, positive) = (data.Train[0], data.Train[1]);
        positive.Should().BeEquivalentTo(new Sample { Label = 1, User = 1, TargetItem = 3, TargetCategory = 2, HistoryItems = [1, 2], HistoryCategories = [3, 4] });
        negative.Label.Should().Be(0);
        negative.TargetItem.Should().BeOneOf(4, 5, 6);
        negative.TargetCategory.Should().Be(data.ItemCategories[negative.TargetItem]);
        negative.HistoryItems.Should().Equal(1, 2);
        data.Train[5].HistoryLength.Should().Be(0, "user 3 has one item: an empty history, kept by default");
        var dropped = AmazonSequenceConverter.Convert(seq, attrs, new ConversionOptions { TestUserFraction = 0, TrainingTargets = TrainingTargets.LastBehaviour, Read = new ReadOptions { KeepEmptyHistories = false } });
        dropped.Train.Should().HaveCount(4);
        dropped.Summary.DroppedEmptyHistories.Should().Be(1);
        var bad = () => AmazonSequenceConverter.Convert(folder.File("bad.txt", "1 1 2\n2 x 3\n"), attrs);
        bad.Should().Throw<DataFormatException>().WithMessage("*bad.txt, line 2: token 2 'x' is not a positive integer id");
    }

    [Fact]
    public void ReadOptionsOfNullIsADataOptionsExceptionBeforeAnyFileIsRead()
    {
        // Files that do not exist: a converter that looked at one first would say so instead.
        using var folder = new TempFolder();
        string Absent(string name) => Path.Combine(folder.Path, name);
        var options = new ConversionOptions { Read = null! };
        var converters = new Action[]
        {
            () => AmazonSequenceConverter.Convert(Absent("Beauty.txt"), Absent("attrs.json"), options),
            () => MovieLensConverter.Convert(Absent("ratings.csv"), Absent("movies.csv"), options),
            () => TaobaoConverter.Convert([Absent("taobao.csv")], options),
        };
        foreach (var convert in converters)
        {
            convert.Should().Throw<DataOptionsException>().WithMessage("*Read = null*must not be null*");
        }
    }

    [Fact]
    public void MovieLensOrdersByTimeThenMovieUsesFirstGenreAndQuotedTitles()
    {
        using var folder = new TempFolder();
        string movies = folder.File("movies.csv",
            "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n2,\"American President, The (1995)\",Comedy|Drama|Romance\n"
            + "3,\"Say \"\"Hi\"\", Bob\",Drama\n4,Nothing,(no genres listed)\n");
        string ratings = folder.File("ratings.csv",
            "userId,movieId,rating,timestamp\n7,3,4.5,100\n7,2,2.0,50\n7,1,4.0,50\n7,4,1.0,200\n8,1,3.0,10\n8,2,5.0,20\n");
        var genres = MovieLensConverter.ReadMovies(movies);
        genres.Should().Equal(new Dictionary<string, string> { ["1"] = "Adventure", ["2"] = "Comedy", ["3"] = "Drama", ["4"] = "(no genres listed)" });
        var data = MovieLensConverter.Convert(ratings, movies, new ConversionOptions { TestUserFraction = 0, TrainingTargets = TrainingTargets.LastBehaviour });
        var positive = data.Train.Single(s => s.Label == 1 && s.User == data.Users.IdOf("7"));
        // Time order 50 (movies 1 then 2, tie by movieId), 100 (3), 200 (4 = target).
        positive.TargetItem.Should().Be(data.Items.IdOf("4"));
        positive.HistoryItems.Should().Equal(data.Items.IdOf("1"), data.Items.IdOf("2"), data.Items.IdOf("3"));
        positive.HistoryCategories.Should().Equal(data.Categories.IdOf("Adventure"), data.Categories.IdOf("Comedy"), data.Categories.IdOf("Drama"));
        positive.HistoryLabels.Should().Equal(1, 0, 1);
        positive.TargetCategory.Should().Be(data.Categories.IdOf("(no genres listed)"));
        var negative = data.Train.Single(s => s.Label == 0 && s.User == data.Users.IdOf("8"));
        negative.TargetItem.Should().BeOneOf(data.Items.IdOf("3"), data.Items.IdOf("4"));
        var bad = () => MovieLensConverter.Convert(folder.File("r2.csv", "userId,movieId,rating,timestamp\n1,1,4.0\n"), movies);
        bad.Should().Throw<DataFormatException>().WithMessage("*r2.csv, line 2: expected 4 fields*found 3");
        var skipped = MovieLensConverter.Convert(folder.File("r3.csv", "userId,movieId,rating,timestamp\n1,1,4.0\n1,2,3,5\n1,1,x,6\n1,3,1,9\n"), movies,
            new ConversionOptions { TestUserFraction = 0, TrainingTargets = TrainingTargets.LastBehaviour, Read = new ReadOptions { SkipBadLines = true } });
        skipped.Summary.SkippedLines.Should().Be(2);
        skipped.Summary.FirstProblem.Should().Contain("line 2");
        skipped.Train.Single(s => s.Label == 1).HistoryLength.Should().Be(1);
    }

    [Fact]
    public void TaobaoTargetIsTheLastPageViewAndEngagementsLabelTheHistory()
    {
        using var folder = new TempFolder();
        string rows = folder.File("ub.csv",
            "1,100,10,pv,5\n1,101,11,cart,3\n1,102,10,pv,9\n1,103,12,buy,12\n1,100,10,fav,5\n2,100,10,buy,1\n3,104,11,pv,1\n3,105,11,pv,2\n");
        var data = TaobaoConverter.Convert([rows], new ConversionOptions { TestUserFraction = 0, TrainingTargets = TrainingTargets.LastBehaviour });
        var positive = data.Train.Single(s => s.Label == 1 && s.User == data.Users.IdOf("1"));
        positive.TargetItem.Should().Be(data.Items.IdOf("102"));
        // Order: 101@3, then 100 pv and 100 fav @5 (same item, file order), then target 102 @9; the buy @12 is after it.
        positive.HistoryItems.Should().Equal(data.Items.IdOf("101"), data.Items.IdOf("100"), data.Items.IdOf("100"));
        positive.HistoryLabels.Should().Equal(1, 0, 1);
        positive.HistoryCategories.Should().Equal(data.Categories.IdOf("11"), data.Categories.IdOf("10"), data.Categories.IdOf("10"));
        data.Train.Should().NotContain(s => s.User == data.Users.IdOf("2"), "user 2 never viewed anything");
        data.Summary.DroppedEmptyHistories.Should().Be(1);
        var negative = data.Train.Single(s => s.Label == 0 && s.User == data.Users.IdOf("3"));
        negative.TargetItem.Should().NotBe(data.Items.IdOf("104")).And.NotBe(data.Items.IdOf("105"));
        var bad = () => TaobaoConverter.Convert([folder.File("b.csv", "1,100,10,pv,5\n1,100,10,click,6\n")]);
        bad.Should().Throw<DataFormatException>().WithMessage("*b.csv, line 2: behavior 'click' is not pv, buy, cart or fav");
    }

    [Fact]
    public void TaobaoTiesInTimeGoByTheItemsNumberThenByFileOrder()
    {
        using var folder = new TempFolder();
        // At time 7: item 100 before 99 in the file, and "100" before "99" as text; by number 99 comes first.
        string rows = folder.File("ub.csv", "4,100,10,pv,7\n4,99,11,cart,7\n4,99,11,pv,7\n4,250,12,pv,9\n4,1,13,pv,8\n");
        var data = TaobaoConverter.Convert([rows], new ConversionOptions { TestUserFraction = 0, TrainingTargets = TrainingTargets.LastBehaviour });
        var positive = data.Train.Single(s => s.Label == 1);
        positive.TargetItem.Should().Be(data.Items.IdOf("250"));
        positive.HistoryItems.Should().Equal(new[] { "99", "99", "100", "1" }.Select(i => (long)data.Items.IdOf(i)));
        positive.HistoryLabels.Should().Equal(1, 0, 0, 0);
        data.ItemCategories[data.Items.IdOf("99")].Should().Be(data.Categories.IdOf("11"));
    }

    [Fact]
    public void ConvertersReportTheirSummaryThroughCompletedOnceAndCountBadLinesAcrossFiles()
    {
        using var folder = new TempFolder();
        string first = folder.File("a.csv", "1,100,10,pv,5\n1,101,11,pv,6\noops\n");
        string second = folder.File("b.csv", "2,100,10,pv,1\n2,102,12,pv,2\n2,103,12,view,3\n");
        var summaries = new List<ReadSummary>();
        var options = new ConversionOptions { TestUserFraction = 0, Read = new ReadOptions { SkipBadLines = true, Completed = new CallbackProgress<ReadSummary>(summaries.Add) } };

        var data = TaobaoConverter.Convert([first, second], options);

        summaries.Should().ContainSingle().Which.Should().Be(data.Summary);
        data.Summary.Lines.Should().Be(6);
        data.Summary.SkippedLines.Should().Be(2, "one bad line in each file");
        data.Summary.FirstProblem.Should().StartWith("a.csv line 3");
        data.Summary.Samples.Should().Be(data.Train.Count + data.Test.Count);
    }

    [Fact]
    public void UserSplitIsDeterministicAndDisjoint()
    {
        using var folder = new TempFolder();
        string seq = folder.File("s.txt", string.Join("\n", Enumerable.Range(1, 50).Select(u => $"{u} {u} {u + 1} {u + 2}")));
        string attrs = folder.File("a.json", "{}");
        var a = AmazonSequenceConverter.Convert(seq, attrs, new ConversionOptions { Seed = 3 });
        var b = AmazonSequenceConverter.Convert(seq, attrs, new ConversionOptions { Seed = 3 });
        a.Test.Select(s => s.User).Distinct().Should().HaveCount(10);
        a.Test.Select(s => s.User).Should().NotIntersectWith(a.Train.Select(s => s.User));
        a.Test.Should().BeEquivalentTo(b.Test, o => o.WithStrictOrdering());
        var c = AmazonSequenceConverter.Convert(seq, attrs, new ConversionOptions { Seed = 4 });
        c.Test.Select(s => s.User).Distinct().Should().NotBeEquivalentTo(a.Test.Select(s => s.User).Distinct());
    }

    [Fact]
    public void EveryBehaviourGivesATrainingUserAPairPerPositionWithItsPrefixAsHistory()
    {
        using var folder = new TempFolder();
        string seq = folder.File("s.txt", string.Join("\n", Enumerable.Range(1, 10).Select(u => $"{u} {u} {u + 10} {u + 20} {u + 30}")));
        string attrs = folder.File("a.json", "{}");
        var options = new ConversionOptions { TestUserFraction = 0.2, Seed = 5, TrainingTargets = TrainingTargets.EveryBehaviour };

        var data = AmazonSequenceConverter.Convert(seq, attrs, options);

        var user = data.Train[0].User;
        var positives = data.Train.Where(s => s.User == user && s.Label == 1).ToList();
        positives.Select(s => s.TargetItem).Should().Equal(user, user + 10, user + 20, user + 30);
        positives.Select(s => s.HistoryItems).Should().BeEquivalentTo(
            new long[][] { [], [user], [user, user + 10], [user, user + 10, user + 20] }, o => o.WithStrictOrdering());
        data.Train.Where(s => s.User == user && s.Label == 0).Select(s => s.HistoryLength).Should().Equal(0, 1, 2, 3);
        data.Train.Should().HaveCount(8 * 4 * 2, "8 training users, 4 positions each, a negative for each");
        data.Test.Should().HaveCount(2 * 2, "a test user keeps its last behaviour only");
        data.Test.Should().OnlyContain(s => s.HistoryLength == 3);

        var capped = AmazonSequenceConverter.Convert(seq, attrs, options.With(o => o.MaxHistoryLength = 2));
        capped.Train.Where(s => s.User == user && s.Label == 1).Select(s => s.HistoryItems).Should().BeEquivalentTo(
            new long[][] { [], [user], [user, user + 10], [user + 10, user + 20] }, o => o.WithStrictOrdering());
        capped.Test.Should().OnlyContain(s => s.HistoryLength == 2, "the cap applies to test users too");

        var withoutEmpty = AmazonSequenceConverter.Convert(seq, attrs, options.With(o => o.Read = new ReadOptions { KeepEmptyHistories = false }));
        withoutEmpty.Train.Should().HaveCount(8 * 3 * 2);
        withoutEmpty.Summary.DroppedEmptyHistories.Should().Be(8);
    }

    [Fact]
    public void EveryBehaviourOnTaobaoTargetsPageViewsOnly()
    {
        using var folder = new TempFolder();
        string rows = folder.File("ub.csv", "1,100,10,pv,1\n1,101,11,cart,2\n1,102,10,pv,3\n1,103,12,pv,4\n1,104,12,buy,5\n");
        var data = TaobaoConverter.Convert([rows], new ConversionOptions { TestUserFraction = 0, TrainingTargets = TrainingTargets.EveryBehaviour });

        var positives = data.Train.Where(s => s.Label == 1).ToList();
        positives.Select(s => s.TargetItem).Should().Equal(data.Items.IdOf("100"), data.Items.IdOf("102"), data.Items.IdOf("103"));
        positives[2].HistoryLabels.Should().Equal(0, 1, 0);
    }

    [Fact]
    public void InvalidConversionOptionsAreReportedByNameBeforeReading()
    {
        var options = new ConversionOptions { TestUserFraction = 1.5, MaxHistoryLength = 0, TrainingTargets = (TrainingTargets)9 };
        var act = () => MovieLensConverter.Convert("/nonexistent/ratings.csv", "/nonexistent/movies.csv", options);
        act.Should().Throw<DataOptionsException>()
            .Which.Errors.Should().HaveCount(3)
            .And.Contain(e => e.Contains("TestUserFraction") && e.Contains("1.5"))
            .And.Contain(e => e.Contains("MaxHistoryLength") && e.Contains('0'))
            .And.Contain(e => e.Contains("TrainingTargets") && e.Contains('9'));
    }
}
