using Dien.Data;
using Dien.Data.Formats;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Data;

/// <summary>
/// The authors'-format reader reads plainly well-formed lines from their characters and every other line through its
/// general split into strings (<see cref="AuthorsFormatReader.ReadsPlainLinesDirectly"/>): both ways give the same
/// samples, the same vocabulary counts and the same problems, on the real sets and on lines at the edges.
/// </summary>
[Collection("Sequential")]
public sealed class AuthorsPlainLineTests
{
    private const char S = AuthorsFormatReader.HistorySeparator;

    /// <summary>Every field of every sample, as text (samples hold arrays, which records compare by reference).</summary>
    private static List<string> Described(IEnumerable<Sample> samples) => samples
        .Select(s => $"{s.Label}|{s.User}|{s.Group}|{s.TargetItem}|{s.TargetCategory}|{string.Join(',', s.HistoryItems)}|{string.Join(',', s.HistoryCategories)}")
        .ToList();

    /// <summary>Every table's counts, in a fixed order.</summary>
    private static List<string> Described(Dictionary<string, long>[] counts) =>
        counts.SelectMany((table, t) => table.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{t}:{p.Key}={p.Value}")).ToList();

    private static AuthorsVocabularies Vocabularies() => new(
        new Vocabulary(new Dictionary<string, int> { ["u1"] = 1, ["u2"] = 2, ["u3"] = 3 }),
        new Vocabulary(new Dictionary<string, int> { ["m1"] = 1, ["m2"] = 2, ["m3"] = 3 }),
        new Vocabulary(new Dictionary<string, int> { ["c1"] = 1, ["c2"] = 2 }));

    /// <summary><paramref name="read"/>'s result read the plain way and the general way.</summary>
    private static (T Plain, T General) BothWays<T>(Func<T> read)
    {
        var plain = read();
        AuthorsFormatReader.ReadsPlainLinesDirectly = false;
        try
        {
            return (plain, read());
        }
        finally
        {
            AuthorsFormatReader.ReadsPlainLinesDirectly = true;
        }
    }

    [SkippableTheory]
    [InlineData("amazon-beauty-dien")]
    [InlineData("amazon-sports-dien")]
    public void On_the_real_sets_both_ways_read_the_same_samples_and_counts(string set)
    {
        string? folder = SharedData.Folder(set, out string reason);
        Skip.If(folder is null, reason);
        string train = Path.Combine(folder, AuthorsDataset.TrainFile);
        var counts = BothWays(() => Described(AuthorsFormatReader.CountStrings(train, new ReadOptions())));
        counts.Plain.Should().Equal(counts.General);

        var vocabularies = AuthorsVocabularies.Load(folder, train);
        foreach (string file in new[] { train, Path.Combine(folder, AuthorsDataset.TestFile) })
        {
            var samples = BothWays(() => Described(new AuthorsFormatReader(file, vocabularies).Read()));
            samples.Plain.Should().NotBeEmpty();
            samples.Plain.Should().Equal(samples.General, $"{file} reads the same either way");
        }
    }

    [Fact]
    public void Lines_at_the_edges_read_the_same_either_way()
    {
        using var folder = new TempFolder();
        string path = folder.File("edges", string.Join('\n',
            $"1\tu1\tm1\tc1\tm2{S}m3\tc2{S}c1\r",   // a Windows line end
            $"1.0\tu1\tm1\tc1\tm2\tc2",            // a label written as a float, which the general way reads
            $" 1\tu2\tm9\tc9\tm2\tc2",             // with a space, likewise
            "0\tu3\tm2\tc2\t\t",                   // an empty history
            $"0\tüser\tmé\tc1\tmé{S}m2\tc1{S}c2", // strings no vocabulary knows: id 0, and their own group keys
            $"1\tu1\tm1\tc1\tm2{S}m3\tc2{S}c1\r\r") + "\n");
        var vocabularies = Vocabularies();

        var samples = BothWays(() => Described(new AuthorsFormatReader(path, vocabularies).Read()));
        samples.Plain.Should().HaveCount(6).And.Equal(samples.General);
        var counts = BothWays(() => Described(AuthorsFormatReader.CountStrings(path, new ReadOptions())));
        counts.Plain.Should().Equal(counts.General);
    }

    [Theory]
    [InlineData("1\tu1\tm1\tc1\tm2\tc2\textra")]
    [InlineData("2\tu1\tm1\tc1\tm2\tc2")]
    [InlineData("1\t\tm1\tc1\tm2\tc2")]
    [InlineData("1\tu1\tm1\tc1\tm2\u0002\tc2\u0002c1")]
    [InlineData("1\tu1\tm1\tc1\tm2\u0002\u0002m3\tc2\u0002c1\u0002c1")]
    [InlineData("1\tu1\tm1\tc1\tm2\u0002m3\tc2")]
    public void A_bad_line_is_reported_the_same_either_way(string line)
    {
        using var folder = new TempFolder();
        string path = folder.File("bad", $"0\tu1\tm1\tc1\tm2\tc2\n{line}\n");
        var vocabularies = Vocabularies();
        string Problem()
        {
            var read = () => new AuthorsFormatReader(path, vocabularies).Read().ToList();
            return read.Should().Throw<DataFormatException>().Which.Message;
        }

        var problems = BothWays(Problem);
        problems.Plain.Should().Contain("line 2").And.Be(problems.General);
    }
}
