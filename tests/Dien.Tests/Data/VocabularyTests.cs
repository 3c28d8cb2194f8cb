using Dien.Data;
using Dien.Data.Formats;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Data;

public sealed class VocabularyTests
{
    [Fact]
    public void FrequencyOrderBreaksTiesByOrdinalStringAndUnknownIsZero()
    {
        var vocabulary = Vocabulary.FromFrequencies(["b", "a", "c", "c", "B", "a", "c"]);
        vocabulary.IdOf("c").Should().Be(1);
        vocabulary.IdOf("a").Should().Be(2);
        vocabulary.IdOf("B").Should().Be(3, "'B' < 'b' in ordinal order");
        vocabulary.IdOf("b").Should().Be(4);
        vocabulary.IdOf("zzz").Should().Be(0);
        vocabulary.Size.Should().Be(5);
        vocabulary.Count.Should().Be(4);
    }

    [Fact]
    public void RankingComparesHeadsAndStringsAsASortOfTheWholeStringsDoes()
    {
        // Keys that share their first eight characters or differ in any of them, prefixes of each other, characters
        // 0 and above 0x7FFF (ordinal order is unsigned), and counts with many ties.
        var random = new Random(7);
        char[] alphabet = ['\0', '0', '1', '9', 'A', 'a', 'é', '\u8000', '\uFFFF'];
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        while (counts.Count < 4000)
        {
            int length = random.Next(0, 13);
            var chars = new char[length];
            for (int i = 0; i < length; i++)
            {
                chars[i] = i < 6 && random.Next(4) > 0 ? 'k' : alphabet[random.Next(alphabet.Length)];
            }

            counts[new string(chars)] = random.Next(1, 4);
        }

        var vocabulary = Vocabulary.FromCounts(counts);
        var expected = counts.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Select((p, i) => (p.Key, Id: i + 1));
        foreach (var (key, id) in expected)
        {
            vocabulary.IdOf(key).Should().Be(id, "the key {0} ranks there", Quote.Of(key));
        }

        vocabulary.Size.Should().Be(counts.Count + 1);
        counts.Keys.Where(k => k.Length > 8).GroupBy(k => k[..8]).Should().Contain(g => g.Count() > 1, "some ties are left to the strings");
        counts.Keys.Should().Contain(k => k.Length < 8 && counts.ContainsKey(k + "\0"), "a key and the same key with a 0 character after it");
    }

    [Fact]
    public void NegativeIdIsRejectedNamingTheEntry()
    {
        var act = () => new Vocabulary(new Dictionary<string, int> { ["x"] = -1 });
        act.Should().Throw<ArgumentException>().WithMessage("*'x' = -1*");
    }

    // Reference bytes from CPython 3: pickle.dumps({'a':0,'Beauty':1,'é':300,'x':70000}, protocol=p).
    private const string Protocol2 = "80027d71002858010000006171014b00580600000042656175747971024b015802000000c3a971034d2c0158010000007871044a70110100752e";
    private const string Protocol4 = "80049527000000000000007d94288c0161944b008c06426561757479944b018c02c3a9944d2c018c0178944a70110100752e";

    [Theory]
    [InlineData("286470300a56610a70310a49300a73564265617574790a70320a49310a7356e90a70330a493330300a7356780a70340a4937303030300a732e")] // protocol 0
    [InlineData("7d71002858010000006171014b00580600000042656175747971024b015802000000c3a971034d2c0158010000007871044a70110100752e")] // protocol 1
    [InlineData(Protocol2)]
    [InlineData("80037d71002858010000006171014b00580600000042656175747971024b015802000000c3a971034d2c0158010000007871044a70110100752e")] // protocol 3
    [InlineData(Protocol4)]
    [InlineData("80059527000000000000007d94288c0161944b008c06426561757479944b018c02c3a9944d2c018c0178944a70110100752e")] // protocol 5
    public void ReadsPicklesWrittenByPython(string hex)
    {
        var map = PickleVocabularyFormat.Read(Convert.FromHexString(hex));
        map.Should().Equal(new Dictionary<string, int> { ["a"] = 0, ["Beauty"] = 1, ["é"] = 300, ["x"] = 70000 });
    }

    [Fact]
    public void WriterProducesTheBytesPythonWrites()
    {
        var entries = new[] { KeyValuePair.Create("a", 0), KeyValuePair.Create("Beauty", 1), KeyValuePair.Create("é", 300), KeyValuePair.Create("x", 70000) };
        Convert.ToHexString(PickleVocabularyFormat.Write(entries)).ToLowerInvariant().Should().Be(Protocol2);
    }

    [Fact]
    public void WriterRoundTripsLargeTablesAcrossBatchesAndLongMemo()
    {
        var entries = Enumerable.Range(0, 2500).Select(i => KeyValuePair.Create($"item_{i}", i * 37)).ToList();
        var back = PickleVocabularyFormat.Read(PickleVocabularyFormat.Write(entries));
        back.Should().HaveCount(2500);
        back["item_2499"].Should().Be(2499 * 37);
        var single = PickleVocabularyFormat.Read(PickleVocabularyFormat.Write([KeyValuePair.Create("only", 5)]));
        single.Should().Equal(new Dictionary<string, int> { ["only"] = 5 });
    }

    [Fact]
    public void NonDictPickleIsReportedWithOffset()
    {
        // pickle.dumps([1], protocol=2): a list, not a dict.
        var act = () => PickleVocabularyFormat.Read(Convert.FromHexString("80025d71004b01612e"), "list.pkl");
        act.Should().Throw<VocabularyFormatException>().WithMessage("list.pkl: byte 2: opcode 0x5d*");
    }

    [Fact]
    public void FilesAreReadAsPickleOrJsonAndRebuiltWhenAbsent()
    {
        using var folder = new TempFolder();
        var vocabulary = Vocabulary.FromFrequencies(["x", "y", "y"]);
        VocabularyFiles.WritePickle(Path.Combine(folder.Path, "mid_voc.pkl"), vocabulary);
        VocabularyFiles.WriteJson(Path.Combine(folder.Path, "cat_voc.json"), vocabulary);
        VocabularyFiles.ReadOrRebuild(folder.Path, "mid_voc", () => throw new InvalidOperationException(), out var s1).Entries.Should().Equal(vocabulary.Entries);
        s1.Should().Be(VocabularySource.Pickle);
        VocabularyFiles.ReadOrRebuild(folder.Path, "cat_voc", () => throw new InvalidOperationException(), out var s2).Entries.Should().Equal(vocabulary.Entries);
        s2.Should().Be(VocabularySource.Json);
        VocabularyFiles.ReadOrRebuild(folder.Path, "uid_voc", () => vocabulary, out var s3).Should().BeSameAs(vocabulary);
        s3.Should().Be(VocabularySource.Rebuilt);
    }
}
