using Dien.Data;
using Dien.Data.Formats;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Data;

public sealed class AuthorsFormatTests
{
    private const char S = '\u0002';

    private static string Fixture() =>
        $"0\tA1\tB9\tLipstick\tB1{S}B2{S}B3\tNail{S}Nail{S}Lipstick\n" +
        $"1\tA1\tB4\tNail\tB1{S}B2{S}B3\tNail{S}Nail{S}Lipstick\n" +
        "0\tA2\tB1\tNail\t\t\n" +
        $"1\tA2\tB2\tNail\t\t\n";

    [Fact]
    public void ReadsHandWrittenLinesWithVocabulariesFromPickles()
    {
        using var folder = new TempFolder();
        string train = folder.File("local_train_splitByUser", Fixture());
        // uid_voc / mid_voc / cat_voc as the authors' script writes them (default_mid = 0).
        PickleVocabularyFormat.Write(Path.Combine(folder.Path, "uid_voc.pkl"), [KeyValuePair.Create("A1", 0), KeyValuePair.Create("A2", 1)]);
        PickleVocabularyFormat.Write(Path.Combine(folder.Path, "mid_voc.pkl"),
            [KeyValuePair.Create("default_mid", 0), KeyValuePair.Create("B1", 1), KeyValuePair.Create("B2", 2), KeyValuePair.Create("B3", 3), KeyValuePair.Create("B4", 4)]);
        PickleVocabularyFormat.Write(Path.Combine(folder.Path, "cat_voc.pkl"), [KeyValuePair.Create("default_cat", 0), KeyValuePair.Create("Nail", 1), KeyValuePair.Create("Lipstick", 2)]);
        var vocabularies = AuthorsVocabularies.Load(folder.Path, train);
        vocabularies.Sources.Should().Be((VocabularySource.Pickle, VocabularySource.Pickle, VocabularySource.Pickle));

        var reader = new AuthorsFormatReader(train, vocabularies);
        var samples = reader.Read().ToList();
        samples.Should().HaveCount(4);
        samples[0].Label.Should().Be(0f);
        samples[0].TargetItem.Should().Be(0, "B9 is not in mid_voc, so it maps to 0");
        samples[0].TargetCategory.Should().Be(2);
        samples[1].HistoryItems.Should().Equal(1, 2, 3);
        samples[1].HistoryCategories.Should().Equal(1, 1, 2);
        samples[3].User.Should().Be(1);
        samples[3].HistoryLength.Should().Be(0);
        reader.Summary!.Samples.Should().Be(4);
    }

    [Fact]
    public void RebuildsVocabulariesByFrequencyWhenFilesAreAbsent()
    {
        using var folder = new TempFolder();
        string train = folder.File("local_train_splitByUser", Fixture());
        var vocabularies = AuthorsVocabularies.Load(folder.Path, train);
        vocabularies.Sources.Should().Be((VocabularySource.Rebuilt, VocabularySource.Rebuilt, VocabularySource.Rebuilt));
        // Items: B1 x3 (2 histories + 1 target), B2 x3, B3 x2, B4 x1, B9 x1.
        vocabularies.Items.IdOf("B1").Should().Be(1);
        vocabularies.Items.IdOf("B2").Should().Be(2);
        vocabularies.Items.IdOf("B3").Should().Be(3);
        vocabularies.Items.IdOf("B4").Should().Be(4);
        vocabularies.Items.IdOf("B9").Should().Be(5);
        vocabularies.Categories.IdOf("Nail").Should().Be(1);
    }

    [Fact]
    public void UsersOutsideTheVocabularyShareIdZeroButKeepTheirOwnGroup()
    {
        using var folder = new TempFolder();
        string test = folder.File("test", Fixture().Replace("A1", "U7").Replace("A2", "U8"));
        var vocabularies = new AuthorsVocabularies(
            new Vocabulary(new Dictionary<string, int> { ["A1"] = 1, ["A2"] = 2 }),
            new Vocabulary(new Dictionary<string, int> { ["B1"] = 1 }),
            new Vocabulary(new Dictionary<string, int> { ["Nail"] = 1 }));
        var samples = new AuthorsFormatReader(test, vocabularies).Read().ToList();
        samples.Select(s => s.User).Should().OnlyContain(u => u == 0, "neither test user is in the vocabulary");
        samples[0].Group.Should().Be(samples[1].Group).And.NotBe(samples[2].Group, "GAUC must still tell U7 from U8");
        samples[2].Group.Should().Be(samples[3].Group);
        new AuthorsFormatReader(test, vocabularies).Read().Select(s => s.Group).Should().Equal(samples.Select(s => s.Group), "the key is stable");
    }

    [Fact]
    public void WriterOutputReadsBackToTheSameSamples()
    {
        using var folder = new TempFolder();
        string train = folder.File("in", Fixture());
        var vocabularies = AuthorsVocabularies.Load(folder.Path, train);
        var samples = new AuthorsFormatReader(train, vocabularies).Read().ToList();
        string copy = Path.Combine(folder.Path, "out");
        var itemNames = vocabularies.Items.Entries.ToDictionary(e => (long)e.Value, e => e.Key);
        var catNames = vocabularies.Categories.Entries.ToDictionary(e => (long)e.Value, e => e.Key);
        var userNames = vocabularies.Users.Entries.ToDictionary(e => (long)e.Value, e => e.Key);
        AuthorsFormatWriter.Write(copy, samples, u => userNames[u], i => itemNames[i], c => catNames[c]).Should().Be(4);
        File.ReadAllText(copy).Should().Be(Fixture());
        new AuthorsFormatReader(copy, vocabularies).Read().Should().BeEquivalentTo(samples, o => o.WithStrictOrdering());
    }

    [Fact]
    public void MalformedLineNamesFileLineAndProblemOrIsSkippedAndCounted()
    {
        using var folder = new TempFolder();
        string text = Fixture() + "1\tA3\tB1\tNail\tB1\n" + $"2\tA3\tB1\tNail\tB1\tNail\n" + $"1\tA3\tB1\tNail\tB1{S}B2\tNail\n";
        string path = folder.File("bad", text);
        var vocabularies = AuthorsVocabularies.Load(folder.Path, folder.File("good", Fixture()));
        var act = () => new AuthorsFormatReader(path, vocabularies).Read().ToList();
        act.Should().Throw<DataFormatException>().Where(e => e.LineNumber == 5 && e.Path == path)
            .WithMessage("*bad, line 5: expected 6 tab-separated fields*found 5");

        ReadSummary? seen = null;
        var reader = new AuthorsFormatReader(path, vocabularies, new ReadOptions { SkipBadLines = true, KeepEmptyHistories = false, Completed = new CallbackProgress<ReadSummary>(s => seen = s) });
        reader.Read().Should().HaveCount(2);
        seen.Should().NotBeNull();
        seen!.SkippedLines.Should().Be(3);
        seen.DroppedEmptyHistories.Should().Be(2);
        seen.FirstProblem.Should().StartWith("line 5");
        var wrongLabel = () => new AuthorsFormatReader(folder.File("label", "2\tA\tB\tC\t\t\n"), vocabularies).Read().ToList();
        wrongLabel.Should().Throw<DataFormatException>().WithMessage("*line 1: label '2' is not 0 or 1");
        var mismatch = () => new AuthorsFormatReader(folder.File("mismatch", $"1\tA\tB\tC\tB1{S}B2\tC\n"), vocabularies).Read().ToList();
        mismatch.Should().Throw<DataFormatException>().WithMessage("*item history has 2 entries but the category history has 1");
    }

    [Fact]
    public void SideFilesAreRead()
    {
        using var folder = new TempFolder();
        folder.File("item-info", "B1\tNail\nB2\tLipstick\n");
        folder.File("reviews-info", "A1\tB1\t5.0\t1400000000\nA2\tB1\t4.0\t1400000001\nA2\tB2\t3.0\t1400000002\n");
        AuthorsSideFiles.ReadItemInfo(Path.Combine(folder.Path, "item-info")).Should().Equal(new Dictionary<string, string> { ["B1"] = "Nail", ["B2"] = "Lipstick" });
        AuthorsSideFiles.ReadReviewItems(Path.Combine(folder.Path, "reviews-info")).Should().Equal("B1", "B1", "B2");
        var vocabularies = new AuthorsVocabularies(
            new Vocabulary(new Dictionary<string, int> { ["A1"] = 1 }),
            new Vocabulary(new Dictionary<string, int> { ["B2"] = 1, ["B1"] = 2 }),
            new Vocabulary(new Dictionary<string, int> { ["Nail"] = 1, ["Lipstick"] = 2 }));
        AuthorsSideFiles.ReadNegativePool(Path.Combine(folder.Path, "reviews-info"), Path.Combine(folder.Path, "item-info"), vocabularies)
            .Should().Equal((2L, 1L), (2L, 1L), (1L, 2L));
        var act = () => AuthorsSideFiles.ReadItemInfo(folder.File("broken", "B1\tNail\nB2\n"));
        act.Should().Throw<DataFormatException>().WithMessage("*line 2*");
    }
}
