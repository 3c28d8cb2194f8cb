using Dien.Data;
using Dien.Data.Converters;
using Dien.Data.Formats;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Data;

/// <summary>
/// Truncation at every length and seeded single-byte mutations of small valid files: each case ends in the reader's
/// documented exception naming the file (and line), a counted skip, or values that a valid file could give; never
/// another exception type.
/// </summary>
public sealed class FuzzTests
{
    private const int Mutations = 300;
    private const char S = '\u0002';

    private static readonly string AuthorsFile =
        $"0\tu1\tm9\tc2\tm1{S}m2{S}m3\tc1{S}c1{S}c2\n" +
        $"1\tu1\tm3\tc2\tm1{S}m2\tc1{S}c1\n" +
        "0\tu2\tm1\tc1\t\t\n" +
        $"1\tu2\tm2\tc1\tm3\tc2\n";

    private static AuthorsVocabularies Vocabularies() => new(
        new Vocabulary(new Dictionary<string, int> { ["u1"] = 1, ["u2"] = 2 }),
        new Vocabulary(new Dictionary<string, int> { ["m1"] = 1, ["m2"] = 2, ["m3"] = 3 }),
        new Vocabulary(new Dictionary<string, int> { ["c1"] = 1, ["c2"] = 2 }));

    /// <summary>The file cut to every length, then <paramref name="mutations"/> seeded single-byte changes of it.</summary>
    private static IEnumerable<(string Case, byte[] Bytes)> Damaged(byte[] valid, int seed, int mutations = Mutations)
    {
        for (int length = 0; length < valid.Length; length++)
        {
            yield return ($"cut to {length} bytes", valid[..length]);
        }

        var random = new Random(seed);
        for (int i = 0; i < mutations; i++)
        {
            var copy = (byte[])valid.Clone();
            int at = random.Next(copy.Length);
            copy[at] ^= (byte)(1 + random.Next(255));
            yield return ($"mutation {i} at byte {at}", copy);
        }
    }

    [Fact]
    public void AuthorsFormat()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "local_train_splitByUser");
        var vocabularies = Vocabularies();
        File.WriteAllText(path, AuthorsFile);
        var original = new AuthorsFormatReader(path, vocabularies).Read().ToList();
        int errors = 0;
        foreach (var (name, bytes) in Damaged(System.Text.Encoding.UTF8.GetBytes(AuthorsFile), 1))
        {
            File.WriteAllBytes(path, bytes);
            int lines = bytes.Count(b => b == (byte)'\n') + 1;
            try
            {
                var samples = new AuthorsFormatReader(path, vocabularies).Read().ToList();
                foreach (var sample in samples)
                {
                    sample.HistoryItems.Length.Should().Be(sample.HistoryCategories.Length, name);
                    sample.Label.Should().BeOneOf([0f, 1f], name);
                    sample.HistoryItems.Should().NotContain(id => id < 0 || id >= vocabularies.Items.Size, name);
                }

                if (name.StartsWith("cut", StringComparison.Ordinal))
                {
                    // Only the last, cut line may differ: every complete line reads as before.
                    samples.Count.Should().BeLessThanOrEqualTo(original.Count, name);
                    for (int i = 0; i < samples.Count - 1; i++)
                    {
                        samples[i].Should().BeEquivalentTo(original[i], name);
                    }
                }
            }
            catch (DataFormatException e)
            {
                e.Path.Should().Be(path, name);
                e.LineNumber.Should().BeInRange(1, lines, name);
                e.Problem.Should().NotBeNullOrEmpty(name);
                errors++;
            }

            // With SkipBadLines nothing throws, and every bad line is counted.
            ReadSummary? summary = null;
            var kept = new AuthorsFormatReader(path, vocabularies, new ReadOptions { SkipBadLines = true, Completed = new CallbackProgress<ReadSummary>(s => summary = s) }).Read().ToList();
            (kept.Count + summary!.SkippedLines).Should().BeLessThanOrEqualTo(summary.Lines, name);
        }

        errors.Should().BeGreaterThan(100);
    }

    [Fact]
    public void PickleVocabulary()
    {
        var entries = new[] { KeyValuePair.Create("default_mid", 0), KeyValuePair.Create("m1", 1), KeyValuePair.Create("m2", 2), KeyValuePair.Create("é", 300), KeyValuePair.Create("x", 700) };
        FuzzVocabulary("mid_voc.pkl", PickleVocabularyFormat.Write(entries), 2, VocabularySource.Pickle);
    }

    [Fact]
    public void JsonVocabulary()
    {
        FuzzVocabulary("mid_voc.json", System.Text.Encoding.UTF8.GetBytes("{\"default_mid\":0,\"m1\":1,\n\"m2\":2,\"é\":300,\"x\":700}"), 3, VocabularySource.Json);
    }

    private static void FuzzVocabulary(string name, byte[] valid, int seed, VocabularySource format)
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, name);
        int errors = 0;
        foreach (var (what, bytes) in Damaged(valid, seed))
        {
            File.WriteAllBytes(path, bytes);
            try
            {
                var vocabulary = VocabularyFiles.Read(path, out var source);
                what.Should().StartWith("mutation", "no cut {0} file is a complete vocabulary ({1})", format, what);
                vocabulary.Entries.Values.Should().OnlyHaveUniqueItems(what).And.NotContain(id => id < 0 || id >= 2000, what);
                vocabulary.Size.Should().BePositive(what);
            }
            catch (VocabularyFormatException e)
            {
                e.Path.Should().Be(path, what);
                e.Message.Should().StartWith(path + ": ", what);
                errors++;
            }
        }

        errors.Should().BeGreaterThan(valid.Length);
    }

    [Fact]
    public void SideFiles()
    {
        using var folder = new TempFolder();
        string items = Path.Combine(folder.Path, "item-info");
        string reviews = Path.Combine(folder.Path, "reviews-info");
        foreach (var (name, bytes) in Damaged("B1\tNail\nB2\tLipstick\n"u8.ToArray(), 4, 150))
        {
            File.WriteAllBytes(items, bytes);
            ExpectDataError(() => AuthorsSideFiles.ReadItemInfo(items), items, name);
        }

        foreach (var (name, bytes) in Damaged("A1\tB1\t5.0\t1400000000\nA2\tB2\t3.0\t1400000002\n"u8.ToArray(), 5, 150))
        {
            File.WriteAllBytes(reviews, bytes);
            ExpectDataError(() => AuthorsSideFiles.ReadReviewItems(reviews), reviews, name);
        }
    }

    [Fact]
    public void ConverterRawFiles()
    {
        using var folder = new TempFolder();
        string seq = folder.File("Beauty.txt", "1 1 2 3\n2 4 1\n3 5 2\n");
        string attrs = folder.File("attrs.json", "{\"1\": [9, 3], \"2\": [4],\n \"3\": [7, 8, 2], \"4\": [1], \"5\": []}");
        byte[] seqBytes = File.ReadAllBytes(seq), attrBytes = File.ReadAllBytes(attrs);
        var options = new ConversionOptions { TestUserFraction = 0 };
        foreach (var (name, bytes) in Damaged(seqBytes, 6, 150))
        {
            File.WriteAllBytes(seq, bytes);
            ExpectDataError(() => AmazonSequenceConverter.Convert(seq, attrs, options), seq, name);
        }

        File.WriteAllBytes(seq, seqBytes);
        foreach (var (name, bytes) in Damaged(attrBytes, 7, 150))
        {
            File.WriteAllBytes(attrs, bytes);
            ExpectDataError(() => AmazonSequenceConverter.Convert(seq, attrs, options), attrs, name);
        }

        string ratings = folder.File("ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,10\n1,2,3.0,11\n2,1,5.0,12\n2,3,1.0,13\n");
        string movies = folder.File("movies.csv", "movieId,title,genres\n1,A,Drama\n2,\"B, The\",Comedy|Drama\n3,C,Action\n");
        byte[] ratingBytes = File.ReadAllBytes(ratings);
        foreach (var (name, bytes) in Damaged(ratingBytes, 8, 150))
        {
            File.WriteAllBytes(ratings, bytes);
            ExpectDataError(() => MovieLensConverter.Convert(ratings, movies, options), ratings, name);
        }

        File.WriteAllBytes(ratings, ratingBytes);
        foreach (var (name, bytes) in Damaged(File.ReadAllBytes(movies), 9, 150))
        {
            File.WriteAllBytes(movies, bytes);
            ExpectDataError(() => MovieLensConverter.Convert(ratings, movies, options), movies, name);
        }

        string behaviour = folder.File("UserBehavior.csv", "1,10,100,pv,1\n1,11,100,buy,2\n1,12,101,pv,3\n2,10,100,pv,4\n2,13,102,pv,5\n");
        foreach (var (name, bytes) in Damaged(File.ReadAllBytes(behaviour), 10, 150))
        {
            File.WriteAllBytes(behaviour, bytes);
            ExpectDataError(() => TaobaoConverter.Convert([behaviour], options), behaviour, name);
        }
    }

    [Fact]
    public void EventLogCsv()
    {
        using var folder = new TempFolder();
        string log = folder.File("events.csv",
            "user,item,ts,category,type,click\nu1,10,1511600000,c1,pv,1\nu1,\"11\",2017-11-25T10:00:00Z,c2,buy,0\n"
            + "u2,10,1511600100,,pv,true\n\"u,2\",12,1511600200,c1,cart,1\n");
        var columns = EventColumns.Parse("user=user,item=item,time=ts,category=category,behaviour=type,targets=pv|cart,label=click");
        var options = new ConversionOptions { TestUserFraction = 0 };
        int errors = 0;
        foreach (var (name, bytes) in Damaged(File.ReadAllBytes(log), 11))
        {
            File.WriteAllBytes(log, bytes);
            int lines = bytes.Count(b => b == (byte)'\n') + 1;
            try
            {
                var data = EventLogConverter.Convert(log, columns, options);
                data.Train.Where(s => s.HistoryItems.Length != s.HistoryCategories.Length || (s.Label != 0 && s.Label != 1)).Should().BeEmpty(name);
                data.Train.Where(s => s.TargetItem <= 0 || s.TargetItem >= data.Items.Size || s.TargetCategory >= data.Categories.Size).Should().BeEmpty(name);
            }
            catch (DataFormatException e)
            {
                e.Path.Should().Be(log, name);
                e.LineNumber.Should().BeInRange(1, lines, name);
                e.Problem.Should().NotBeNullOrEmpty(name);
                errors++;
            }

            // With SkipBadLines only a header without the mapped columns still throws, and every bad line is counted.
            ReadSummary? summary = null;
            try
            {
                EventLogConverter.Convert(log, columns, options.With(o => o.Read = new ReadOptions { SkipBadLines = true, Completed = new CallbackProgress<ReadSummary>(s => summary = s) }));
                summary!.SkippedLines.Should().BeLessThanOrEqualTo(summary.Lines, name);
            }
            catch (DataFormatException e)
            {
                e.LineNumber.Should().Be(1, "{0}: only the header cannot be skipped", name);
            }
        }

        errors.Should().BeGreaterThan(100);
    }

    [Fact]
    public void EventLogParquet()
    {
        using var folder = new TempFolder();
        var fixture = new EventLogFixture(users: 3, eventsPerUser: 4);
        string path = fixture.WriteParquet(Path.Combine(folder.Path, "events.parquet"), rowGroup: 5);
        var columns = EventColumns.Parse("user=user_id,item=item_id,time=ts,category=category,behaviour=behaviour,label=clicked");
        var options = new ConversionOptions { TestUserFraction = 0 };
        foreach (var (name, bytes) in Damaged(File.ReadAllBytes(path), 12, 200))
        {
            File.WriteAllBytes(path, bytes);
            try
            {
                var data = EventLogConverter.Convert(path, columns, options);
                data.Train.Where(s => s.HistoryItems.Length != s.HistoryCategories.Length || s.TargetItem >= data.Items.Size).Should().BeEmpty(name);
            }
            catch (DataFormatException e)
            {
                e.Path.Should().Be(path, name);
                e.Problem.Should().NotBeNullOrEmpty(name);
            }
        }
    }

    /// <summary>Either the read succeeds, or it throws <see cref="DataFormatException"/> naming <paramref name="path"/> and a line of it.</summary>
    private static void ExpectDataError(Action read, string path, string name)
    {
        try
        {
            read();
        }
        catch (DataFormatException e)
        {
            e.Path.Should().Be(path, name);
            e.LineNumber.Should().BePositive(name);
            e.Problem.Should().NotBeNullOrEmpty(name);
        }
    }
}
