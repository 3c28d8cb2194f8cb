using Dien.Data;
using Dien.Data.Formats;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Data;

/// <summary>
/// The side files are read from each line's characters: the negative pool looks a review's item up by its characters,
/// with no string per review, and must be the pool the string composition gives (item-info's categories, the review
/// column's items, both through the vocabularies); bad lines are worded with their true field count.
/// </summary>
public sealed class AuthorsSideFilesTests
{
    [SkippableTheory]
    [InlineData("amazon-beauty-dien")]
    [InlineData("amazon-sports-dien")]
    public void On_the_real_sets_the_pool_is_the_string_compositions(string set)
    {
        string? folder = SharedData.Folder(set, out string reason);
        Skip.If(folder is null, reason);
        string reviews = Path.Combine(folder, "reviews-info"), items = Path.Combine(folder, "item-info");
        var vocabularies = AuthorsVocabularies.Load(folder, Path.Combine(folder, AuthorsDataset.TrainFile));

        var categoryOf = AuthorsSideFiles.ReadItemInfo(items);
        var expected = AuthorsSideFiles.ReadReviewItems(reviews)
            .Select(asin => ((long)vocabularies.Items.IdOf(asin), (long)vocabularies.Categories.IdOf(categoryOf.GetValueOrDefault(asin, string.Empty))))
            .Where(pair => pair.Item1 != 0)
            .ToList();

        var pool = AuthorsSideFiles.ReadNegativePool(reviews, items, vocabularies);

        expected.Should().HaveCountGreaterThan(10_000, "every review of a known item is in the pool");
        pool.Should().Equal(expected);
    }

    [Fact]
    public void Edge_lines_read_as_their_fields_and_bad_ones_name_their_count()
    {
        using var folder = new TempFolder();
        string items = folder.File("item-info", "B1\tNail\r\n\nB2\t\r\r\nB3\tNail\n");
        string reviews = folder.File("reviews-info", "A1\tB1\t5.0\t1\r\nA2\tB2\t4.0\t2\n\nA3\tB3\t3.0\t3\nA4\tB4\t1.0\t4\nA5\t\t1.0\t5\n");
        var vocabularies = new AuthorsVocabularies(
            new Vocabulary(new Dictionary<string, int> { ["A1"] = 1 }),
            new Vocabulary(new Dictionary<string, int> { ["B1"] = 1, ["B2"] = 2, ["B3"] = 3, ["B4"] = 4 }),
            new Vocabulary(new Dictionary<string, int> { ["Nail"] = 1, [string.Empty] = 7 }));

        AuthorsSideFiles.ReadItemInfo(items).Should().Equal(new Dictionary<string, string> { ["B1"] = "Nail", ["B2"] = string.Empty, ["B3"] = "Nail" });
        AuthorsSideFiles.ReadReviewItems(reviews).Should().Equal("B1", "B2", "B3", "B4", string.Empty);
        // B2's category is the empty string and B4 has none: both take the empty string's id; the empty asin is unknown.
        AuthorsSideFiles.ReadNegativePool(reviews, items, vocabularies).Should().Equal((1L, 1L), (2L, 7L), (3L, 1L), (4L, 7L));

        string wide = folder.File("wide", "B1\tNail\nB2\tLipstick\tExtra\tMore\n");
        FluentActions.Invoking(() => AuthorsSideFiles.ReadItemInfo(wide)).Should().Throw<DataFormatException>()
            .WithMessage("*line 2: expected 2 tab-separated fields (asin \\t category) but found 4");
        string narrow = folder.File("narrow", "A1\tB1\t5.0\t1\nA2\tB1\n");
        FluentActions.Invoking(() => AuthorsSideFiles.ReadReviewItems(narrow)).Should().Throw<DataFormatException>()
            .WithMessage("*line 2: expected 4 tab-separated fields (reviewerID \\t asin \\t rating \\t unixTime) but found 2");

        var summaries = new List<ReadSummary>();
        var skipping = new ReadOptions { SkipBadLines = true, Completed = new CallbackProgress<ReadSummary>(summaries.Add) };
        AuthorsSideFiles.ReadItemInfo(wide, skipping).Should().Equal(new Dictionary<string, string> { ["B1"] = "Nail" });
        summaries.Should().ContainSingle().Which.Should().BeEquivalentTo(new ReadSummary
        {
            Source = wide, Lines = 2, Samples = 1, SkippedLines = 1,
            FirstProblem = "line 2: expected 2 tab-separated fields (asin \\t category) but found 4",
        });
    }
}
