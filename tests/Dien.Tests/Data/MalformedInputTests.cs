using Dien.Data;
using Dien.Data.Converters;
using Dien.Data.Formats;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Data;

/// <summary>Hand-made malformed inputs for every reader: each gets the documented exception naming file, line and reason.</summary>
public sealed class MalformedInputTests
{
    private const char S = '\u0002';

    private static AuthorsVocabularies Vocabularies() => new(
        new Vocabulary(new Dictionary<string, int> { ["u1"] = 1 }),
        new Vocabulary(new Dictionary<string, int> { ["m1"] = 1, ["m2"] = 2, ["m3"] = 3 }),
        new Vocabulary(new Dictionary<string, int> { ["c1"] = 1, ["c2"] = 2, ["c3"] = 3 }));

    [Theory]
    [InlineData("1\tu1\tm1\tc1\t\u0002m2\u0002m3\t\u0002c2\u0002c3", 5, 1, 3)] // leading separator
    [InlineData("1\tu1\tm1\tc1\tm2\u0002m3\u0002\tc2\u0002c3\u0002", 5, 3, 3)] // trailing separator
    [InlineData("1\tu1\tm1\tc1\tm2\u0002\u0002m3\tc2\u0002\u0002c3", 5, 2, 3)] // doubled separator
    [InlineData("1\tu1\tm1\tc1\tm2\u0002m3\tc2\u0002", 6, 2, 2)] // only the category history
    public void EmptyHistoryEntryIsAMalformedLineNamingFieldAndPosition(string line, int field, int position, int of)
    {
        using var folder = new TempFolder();
        string path = folder.File("train", $"1\tu1\tm1\tc1\tm2{S}m3\tc2{S}c3\n" + line + "\n");
        var act = () => new AuthorsFormatReader(path, Vocabularies()).Read().ToList();
        act.Should().Throw<DataFormatException>()
            .Where(e => e.Path == path && e.LineNumber == 2)
            .WithMessage($"*field {field} (*_history) has an empty entry at position {position} of {of}*");

        ReadSummary? summary = null;
        var samples = new AuthorsFormatReader(path, Vocabularies(), new ReadOptions { SkipBadLines = true, Completed = s => summary = s }).Read().ToList();
        samples.Should().ContainSingle().Which.HistoryItems.Should().Equal(2, 3);
        summary!.SkippedLines.Should().Be(1);
        summary.FirstProblem.Should().StartWith("line 2: field");
    }

    [Fact]
    public void EmptyHistoryEntryIsAlsoRejectedWhenVocabulariesAreRebuilt()
    {
        using var folder = new TempFolder();
        string path = folder.File("local_train_splitByUser", $"1\tu1\tm1\tc1\t{S}m2\t{S}c2\n");
        var act = () => AuthorsVocabularies.Load(folder.Path, path);
        act.Should().Throw<DataFormatException>().Where(e => e.LineNumber == 1).WithMessage("*local_train_splitByUser, line 1: field 5*empty entry*");
    }

    [Theory]
    [InlineData("1\t\tm1\tc1\t\t", "field 2 (uid) is empty")]
    [InlineData("1\tu1\t\tc1\t\t", "field 3 (mid) is empty")]
    [InlineData("1\tu1\tm1\t\t\t", "field 4 (cat) is empty")]
    public void EmptyIdFieldIsAMalformedLine(string line, string reason)
    {
        using var folder = new TempFolder();
        string path = folder.File("train", line + "\n");
        var act = () => new AuthorsFormatReader(path, Vocabularies()).Read().ToList();
        act.Should().Throw<DataFormatException>().WithMessage($"*train, line 1: {reason}");
    }

    [Fact]
    public void UnknownNonEmptyIdsStillMapToZero()
    {
        using var folder = new TempFolder();
        string path = folder.File("train", $"1\tnobody\tm9\tc9\tm1{S}m9\tc1{S}c9\n");
        var sample = new AuthorsFormatReader(path, Vocabularies()).Read().Single();
        (sample.User, sample.TargetItem, sample.TargetCategory).Should().Be((0L, 0L, 0L));
        sample.HistoryItems.Should().Equal(1, 0);
    }

    [Fact]
    public void HugeBadFieldIsQuotedShortWithItsLength()
    {
        using var folder = new TempFolder();
        string label = new('7', 5_000_000);
        string path = folder.File("train", label + "\tu1\tm1\tc1\t\t\n");
        var act = () => new AuthorsFormatReader(path, Vocabularies()).Read().ToList();
        var e = act.Should().Throw<DataFormatException>().Which;
        e.Message.Length.Should().BeLessThan(400);
        e.Message.Should().Contain("(5000000 chars)").And.Contain(new string('7', 80)).And.NotContain(new string('7', 81));
    }

    [Fact]
    public void ConvertersQuoteHugeFieldsShort()
    {
        using var folder = new TempFolder();
        string huge = new('x', 100_000);
        string attrs = folder.File("attrs.json", "{}");
        Action amazon = () => AmazonSequenceConverter.Convert(folder.File("seq.txt", $"1 {huge}\n"), attrs);
        ShortQuote(amazon, 400);
        var movies = folder.File("movies.csv", "movieId,title,genres\n1,A,Drama\n");
        Action movieLens = () => MovieLensConverter.Convert(folder.File("ratings.csv", $"userId,movieId,rating,timestamp\n1,{huge},4,1\n"), movies);
        ShortQuote(movieLens, 600);
        Action taobao = () => TaobaoConverter.Convert([folder.File("ub.csv", $"1,2,3,{huge},5\n")]);
        ShortQuote(taobao, 400);
    }

    private static void ShortQuote(Action act, int maxLength)
    {
        var message = act.Should().Throw<DataFormatException>().Which.Message;
        message.Should().Contain("(100000 chars)");
        message.Length.Should().BeLessThan(maxLength);
    }
}
