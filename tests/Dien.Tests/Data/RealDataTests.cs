using Dien.Data;
using Dien.Data.Batching;
using Dien.Data.Converters;
using Dien.Data.Formats;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace Dien.Tests.Data;

/// <summary>Converters, writer, reader, batcher and sampler on the small real data sets in ../shared/data.</summary>
public sealed class RealDataTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void AmazonBeauty()
    {
        string? folder = SharedData.Folder("amazon-beauty-s3rec", out string reason);
        Skip.If(folder is null, reason);

        var data = Check(o => AmazonSequenceConverter.Convert(Path.Combine(folder, "Beauty.txt"), Path.Combine(folder, "Beauty_item2attributes.json"), o), "Amazon Beauty", expectedUsers: 22_363);
        data.ItemCategories.Skip(1).Should().OnlyContain(c => c > 0, "every Beauty item has attributes");
    }

    [SkippableFact]
    public void MovieLensLatestSmall()
    {
        string? folder = SharedData.Folder("movielens-latest-small", out string reason);
        Skip.If(folder is null, reason);

        var data = Check(o => MovieLensConverter.Convert(Path.Combine(folder, "ratings.csv"), Path.Combine(folder, "movies.csv"), o), "MovieLens latest-small", expectedUsers: 610);
        MovieLensConverter.ReadMovies(Path.Combine(folder, "movies.csv")).Should().HaveCount(9742, "quoted titles with commas must not split");
        data.Items.Count.Should().Be(9724);
    }

    [SkippableFact]
    public void TaobaoSlices()
    {
        string? folder = SharedData.Folder("taobao-userbehavior-slices", out string reason);
        Skip.If(folder is null, reason);

        var data = Check(o => TaobaoConverter.Convert([Path.Combine(folder, "UserBehavior_part_head.csv"), Path.Combine(folder, "UserBehavior_part_tail.csv")], o), "Taobao UserBehavior slices", expectedUsers: null);
        data.Train.Concat(data.Test).Should().OnlyContain(s => s.HistoryLabels != null && s.HistoryLabels.Length == s.HistoryLength);
    }

    // Converts with the last behaviour of each user (one pair per user), then with the default (every behaviour of
    // a training user), checks both, and returns the default conversion.
    private ConvertedDataset Check(Func<ConversionOptions, ConvertedDataset> convert, string name, int? expectedUsers)
    {
        var last = convert(new ConversionOptions { TrainingTargets = TrainingTargets.LastBehaviour });
        CheckLastBehaviour(last, name, expectedUsers);
        var every = convert(new ConversionOptions());
        CheckEveryBehaviour(every, last, name);
        return every;
    }

    private void CheckEveryBehaviour(ConvertedDataset every, ConvertedDataset last, string name)
    {
        static (long User, long Target, string History) Key(Sample s) => (s.User, s.TargetItem, string.Join(',', s.HistoryItems));
        every.Test.Where(s => s.Label == 1).Select(Key).Should().Equal(last.Test.Where(s => s.Label == 1).Select(Key), "test users keep their last behaviour only");
        var positives = every.Train.Where(s => s.Label == 1).ToList();
        positives.Select(Key).Should().Contain(last.Train.Where(s => s.Label == 1).Select(Key), "each user's last pair is one of its pairs");
        positives.Should().HaveCountGreaterThan(2 * last.Train.Count(s => s.Label == 1), "real users have more than one behaviour");
        every.Train.Count(s => s.Label == 0).Should().Be(positives.Count, "one sampled negative per pair");
        every.Train.Concat(every.Test).Should().OnlyContain(s => s.HistoryLength <= 100, "histories are cut to the most recent 100 by default");
        output.WriteLine($"{name}, every behaviour: {positives.Count} training pairs (last behaviour only: {last.Train.Count(s => s.Label == 1)})");
        CheckBatchesAndFormat(every);
    }

    private void CheckLastBehaviour(ConvertedDataset data, string name, int? expectedUsers)
    {
        var all = data.Train.Concat(data.Test).ToList();
        int users = all.Select(s => s.User).Distinct().Count();
        if (expectedUsers is { } n)
        {
            users.Should().Be(n);
        }

        data.Summary.SkippedLines.Should().Be(0);
        all.Count(s => s.Label == 1).Should().Be(users, "one positive per user");
        all.Count(s => s.Label == 0).Should().Be(users, "one sampled negative per user");
        data.Test.Select(s => s.User).Should().NotIntersectWith(data.Train.Select(s => s.User));
        ((double)data.Test.Select(s => s.User).Distinct().Count() / users).Should().BeApproximately(0.2, 0.01);
        var lengths = all.Where(s => s.Label == 1).Select(s => s.HistoryLength).ToList();
        output.WriteLine(
            $"{name}: {data.Summary.Lines} lines, {users} users, {all.Count} samples ({data.Train.Count} train / {data.Test.Count} test), "
            + $"{data.Items.Count} items, {data.Categories.Count} categories, history length mean {lengths.Average():F2}, median {lengths.Order().ElementAt(lengths.Count / 2)}, "
            + $"max {lengths.Max()}, empty {lengths.Count(l => l == 0)}, over 100: {lengths.Count(l => l > 100)}, dropped {data.Summary.DroppedEmptyHistories}");

        CheckBatchesAndFormat(data);
    }

    private static void CheckBatchesAndFormat(ConvertedDataset data)
    {
        var sampler = data.CreateNegativeSampler();
        var batcher = new Batcher(new BatcherOptions { BatchSize = 128, Shuffle = true, BucketByLength = true, NegativeSampler = sampler, IncludeHistoryLabels = true });
        int rows = 0;
        foreach (var batch in batcher.Batches(data.Train))
        {
            batch.Validate();
            batch.MaxLength.Should().Be(batch.Width);
            batch.Width.Should().BeLessThanOrEqualTo(100);
            for (int i = 0; i < batch.HistoryItems.Length; i++)
            {
                if (i % Math.Max(1, batch.Width) < batch.Lengths[i / Math.Max(1, batch.Width)])
                {
                    batch.NegativeItems![i].Should().NotBe(batch.HistoryItems[i]);
                }
            }

            rows += batch.Size;
        }

        rows.Should().Be(data.Train.Count - (int)batcher.DroppedEmptyHistories);

        // Through the authors' format and back: identical ids with identity name maps.
        using var temp = new TempFolder();
        string file = Path.Combine(temp.Path, "local_test_splitByUser");
        AuthorsFormatWriter.Write(file, data.Test);
        var back = new AuthorsFormatReader(file, Identity(data)).Read().ToList();
        back.Should().HaveCount(data.Test.Count);
        back.Select(s => (s.Label, s.User, s.TargetItem, s.TargetCategory, string.Join(',', s.HistoryItems), string.Join(',', s.HistoryCategories)))
            .Should().Equal(data.Test.Select(s => (s.Label, s.User, s.TargetItem, s.TargetCategory, string.Join(',', s.HistoryItems), string.Join(',', s.HistoryCategories))));
    }

    private static AuthorsVocabularies Identity(ConvertedDataset data)
    {
        static Vocabulary Ids(int size) => new(Enumerable.Range(1, size - 1).ToDictionary(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture), i => i));
        return new AuthorsVocabularies(Ids(data.Users.Size), Ids(data.Items.Size), Ids(Math.Max(2, data.Categories.Size)));
    }
}
