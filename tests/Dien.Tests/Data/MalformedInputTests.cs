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
        var samples = new AuthorsFormatReader(path, Vocabularies(), new ReadOptions { SkipBadLines = true, Completed = new CallbackProgress<ReadSummary>(s => summary = s) }).Read().ToList();
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

/// <summary>Every failure to read a vocabulary file is a <see cref="VocabularyFormatException"/> naming the file and the reason.</summary>
public sealed class MalformedVocabularyTests
{
    private static readonly KeyValuePair<string, int>[] Entries =
        [KeyValuePair.Create("default_mid", 0), KeyValuePair.Create("m1", 1), KeyValuePair.Create("m2", 2), KeyValuePair.Create("m3", 3)];

    private static VocabularyFormatException Rejects(TempFolder folder, string name, byte[] bytes)
    {
        string path = Path.Combine(folder.Path, name);
        File.WriteAllBytes(path, bytes);
        var act = () => VocabularyFiles.Read(path, out _);
        var e = act.Should().Throw<VocabularyFormatException>().Which;
        e.Path.Should().Be(path);
        e.Message.Should().StartWith(path + ": ");
        return e;
    }

    private static byte[] Utf8(string text) => System.Text.Encoding.UTF8.GetBytes(text);

    [Fact]
    public void TruncatedOrDamagedPickleNamesTheFileAndTheByte()
    {
        using var folder = new TempFolder();
        byte[] pickle = PickleVocabularyFormat.Write(Entries);
        Rejects(folder, "mid_voc.pkl", pickle[..9]).Problem.Should().MatchRegex("^byte \\d+: .*(truncated|ends before)");
        var damaged = (byte[])pickle.Clone();
        damaged[3] = 0x58; // BINPUT turned into BINUNICODE with an absurd length
        Rejects(folder, "mid_voc.pkl", damaged).Problem.Should().StartWith("byte 3: opcode 0x58 is truncated");
    }

    [Fact]
    public void PickleWithARepeatedKeyOrSharedIdIsRejected()
    {
        using var folder = new TempFolder();
        Rejects(folder, "a.pkl", PickleVocabularyFormat.Write([KeyValuePair.Create("m1", 1), KeyValuePair.Create("m1", 2)])).Problem.Should().Contain("'m1' is set twice");
        Rejects(folder, "b.pkl", PickleVocabularyFormat.Write([KeyValuePair.Create("m1", 1), KeyValuePair.Create("m2", 1)])).Problem.Should().Contain("share the id 1");
    }

    [Theory]
    [InlineData("{\"m1\":1,\"m2\":1}", "entries 'm1' and 'm2' share the id 1")]
    [InlineData("{\"m1\":1,\n\"m1\":2}", "line 2: key 'm1' is given twice (ids 1 and 2)")]
    [InlineData("{\"m1\":2147483647}", "entry 'm1' has the id 2147483647, but ids may not exceed 1040*")]
    [InlineData("{\"m1\":1,\"m2\":5000}", "entry 'm2' has the id 5000, but ids may not exceed 1056*")]
    [InlineData("{\"m1\":-1}", "entry 'm1' has the negative id -1")]
    [InlineData("{\"m1\":\"1\"}", "line 1: the id of 'm1' is '1', not an integer of 32 bits")]
    [InlineData("{\"m1\":1.5}", "line 1: the id of 'm1' is '1.5', not an integer of 32 bits")]
    [InlineData("{\"m1\":99999999999}", "line 1: the id of 'm1' is '99999999999', not an integer of 32 bits")]
    [InlineData("{\"m1\":[1]}", "line 1: the id of 'm1' is 'StartArray', not an integer of 32 bits")]
    [InlineData("{\"m1\":1,\"m2\":", "*truncated*")]
    [InlineData("{\"m1\":1", "*truncated*")]
    [InlineData("{\"m1\":1} {}", "*")]
    [InlineData("[1,2]", "*")]
    public void WrongJsonVocabularyIsRejectedWithTheReason(string json, string reason)
    {
        using var folder = new TempFolder();
        Rejects(folder, "mid_voc.json", Utf8(json)).Problem.Should().Match(reason);
    }

    [Fact]
    public void ValidJsonWithBomAndSparseIdsIsRead()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "v.json");
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. Utf8(" {\"a\":0,\"b\":1040}")]);
        var vocabulary = VocabularyFiles.Read(path, out var source);
        source.Should().Be(VocabularySource.Json);
        vocabulary.Size.Should().Be(1041);
    }

    [Fact]
    public void VocabularyConstructorRejectsTheIdWhoseSizeWouldOverflow()
    {
        var act = () => new Vocabulary(new Dictionary<string, int> { ["x"] = int.MaxValue });
        act.Should().Throw<ArgumentException>().WithMessage("*'x' = 2147483647*");
    }

    [Fact]
    public void AuthorsVocabulariesLoadNamesTheBadFile()
    {
        using var folder = new TempFolder();
        string train = folder.File("local_train_splitByUser", "1\tu1\tm1\tc1\t\t\n");
        File.WriteAllBytes(Path.Combine(folder.Path, "mid_voc.pkl"), PickleVocabularyFormat.Write(Entries)[..9]);
        var act = () => AuthorsVocabularies.Load(folder.Path, train);
        act.Should().Throw<VocabularyFormatException>().Which.Path.Should().EndWith("mid_voc.pkl");
    }
}

/// <summary>The Amazon converter's attributes JSON and far-out ids.</summary>
public sealed class MalformedAmazonTests
{
    [Fact]
    public void FarOutIdIsAMalformedLineNotAnOutOfMemory()
    {
        using var folder = new TempFolder();
        string attrs = folder.File("attrs.json", "{\"2\": [5], \"3\": [6]}");
        string seq = folder.File("seq.txt", "1 2 3\n2 2 3 2147483646\n");
        var act = () => AmazonSequenceConverter.Convert(seq, attrs);
        act.Should().Throw<DataFormatException>().Where(e => e.Path == seq && e.LineNumber == 2).WithMessage("*item 2147483646 is far beyond*");
        var skipped = AmazonSequenceConverter.Convert(seq, attrs, new ConversionOptions { TestUserFraction = 0, Read = new ReadOptions { SkipBadLines = true } });
        skipped.Summary.SkippedLines.Should().Be(1);
        skipped.Items.Size.Should().Be(4);
        var farUser = () => AmazonSequenceConverter.Convert(folder.File("users.txt", "1 2 3\n999999 2 3\n"), attrs);
        farUser.Should().Throw<DataFormatException>().Where(e => e.LineNumber == 2).WithMessage("*user 999999 is far beyond*");
    }

    [Theory]
    [InlineData("{\"2\": [5],\n \"3\": [6", 2, "*truncated or malformed*")]
    [InlineData("{\"2\": [5]", 1, "*")]
    [InlineData("{\"2\": [5],\n\"x\": [6]}", 2, "key 'x' is not a positive integer item id")]
    [InlineData("{\"2\": [5],\n\"3\": [\"a\"]}", 2, "the attributes of item 3 are not an array of non-negative integers")]
    [InlineData("{\"2\": [5],\n\"3\": [-4]}", 2, "the attributes of item 3 are not an array of non-negative integers")]
    [InlineData("{\"2\": [5],\n\"2147483646\": [6]}", 2, "item 2147483646 is far beyond*")]
    [InlineData("{\"2\": [5],\n\"3\": [2147483000]}", 2, "attribute 2147483000 of item 3 is far beyond*")]
    [InlineData("[]", 1, "not a JSON object*")]
    public void BadAttributesJsonNamesFileAndLine(string json, long line, string reason)
    {
        using var folder = new TempFolder();
        string attrs = folder.File("attrs.json", json);
        string seq = folder.File("seq.txt", "1 2 3\n");
        var act = () => AmazonSequenceConverter.Convert(seq, attrs);
        var e = act.Should().Throw<DataFormatException>().Which;
        e.Path.Should().Be(attrs);
        e.LineNumber.Should().Be(line);
        e.Problem.Should().Match(reason);
    }
}
