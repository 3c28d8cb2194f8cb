using Dien.Data;
using Dien.Data.Batching;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Data;

public sealed class BatcherTests
{
    private static Sample Make(long user, int length, float label = 1f, long[]? extra = null) => new()
    {
        Label = label,
        User = user,
        TargetItem = 1000 + user,
        TargetCategory = 7,
        HistoryItems = Enumerable.Range(1, length).Select(i => (long)((user * 100) + i)).ToArray(),
        HistoryCategories = Enumerable.Range(1, length).Select(i => (long)i).ToArray(),
        HistoryLabels = Enumerable.Range(1, length).Select(i => (float)(i % 2)).ToArray(),
        ExtraFields = extra,
    };

    [Fact]
    public void PadsToTheLongestHistoryOfTheBatchLeftAlignedOldestFirst()
    {
        var batch = new Batcher(new BatcherOptions { BatchSize = 3, IncludeHistoryLabels = true }).Batches([Make(1, 2), Make(2, 4), Make(3, 0)]).Single();
        batch.Validate();
        batch.Width.Should().Be(4);
        batch.Lengths.Should().Equal(2, 4, 0);
        batch.HistoryItems.Should().Equal(101, 102, 0, 0, 201, 202, 203, 204, 0, 0, 0, 0);
        batch.HistoryCategories.Should().Equal(1, 2, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0);
        batch.HistoryLabels.Should().Equal(1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0);
        batch.UserIds.Should().Equal(1, 2, 3);
        batch.GroupIds.Should().Equal(1, 2, 3);
        batch.TargetItems.Should().Equal(1001, 1002, 1003);
        batch.Labels.Should().Equal(1, 1, 1);
        batch.NegativeItems.Should().BeNull();
    }

    [Fact]
    public void GroupIdsComeFromTheSampleGroupAndFallBackToTheUser()
    {
        var batch = new Batcher(new BatcherOptions { BatchSize = 3 }).Batches([Make(0, 1) with { Group = -17 }, Make(0, 1) with { Group = 5 }, Make(4, 1)]).Single();
        batch.UserIds.Should().Equal(0, 0, 4);
        batch.GroupIds.Should().Equal(-17, 5, 4);
    }

    [Fact]
    public void TruncatesToTheMostRecentAndSaysSoOnce()
    {
        var log = new MessageLogger();
        var batcher = new Batcher(new BatcherOptions { BatchSize = 2, MaxHistoryLength = 3, Logger = log });
        var batches = batcher.Batches([Make(1, 5), Make(2, 6), Make(3, 2), Make(4, 9)]).ToList();
        batches[0].Width.Should().Be(3);
        batches[0].HistoryItems.Should().Equal(103, 104, 105, 204, 205, 206);
        batches[1].HistoryItems.Should().Equal(301, 302, 0, 407, 408, 409);
        batcher.TruncatedSamples.Should().Be(3);
        log.Messages.Should().ContainSingle().Which.Should().Contain("3 most recent");
    }

    [Fact]
    public void EmptyHistoriesAreKeptOrDroppedByOption()
    {
        Sample[] samples = [Make(1, 0), Make(2, 3), Make(3, 0)];
        new Batcher(new BatcherOptions { BatchSize = 10 }).Batches(samples).Single().Size.Should().Be(3);
        var dropping = new Batcher(new BatcherOptions { BatchSize = 10, KeepEmptyHistories = false });
        var batch = dropping.Batches(samples).Single();
        batch.Size.Should().Be(1);
        batch.UserIds.Should().Equal(2);
        dropping.DroppedEmptyHistories.Should().Be(2);
        var allEmpty = new Batcher(new BatcherOptions { BatchSize = 2 }).Batches([Make(1, 0), Make(2, 0)]).Single();
        allEmpty.Width.Should().Be(0);
        allEmpty.Validate();
    }

    [Fact]
    public void BucketingInsideTheBufferShrinksPaddingAndSeededShuffleIsRepeatable()
    {
        var random = new Random(5);
        var samples = Enumerable.Range(1, 400).Select(u => Make(u, random.Next(1, 60))).ToList();
        static long Cells(IEnumerable<Dien.Data.Batching.BatchArrays> batches) => batches.Sum(b => (long)b.Size * b.Width);
        var plain = new Batcher(new BatcherOptions { BatchSize = 16, BufferBatches = 5 }).Batches(samples).ToList();
        var options = new BatcherOptions { BatchSize = 16, BufferBatches = 5, Shuffle = true, BucketByLength = true, Seed = 3 };
        var bucketed = new Batcher(options).Batches(samples).ToList();
        bucketed.Sum(b => b.Size).Should().Be(400);
        bucketed.SelectMany(b => b.UserIds).Should().BeEquivalentTo(Enumerable.Range(1, 400).Select(i => (long)i));
        // Uniform lengths 1..59 in 5 sorted buckets: about 179 / 285 of the plain padding.
        Cells(bucketed).Should().BeLessThan(Cells(plain) * 7 / 10);
        foreach (var b in bucketed)
        {
            b.Validate();
        }

        var again = new Batcher(options).Batches(samples).ToList();
        again.SelectMany(b => b.UserIds).Should().Equal(bucketed.SelectMany(b => b.UserIds));
        var other = new Batcher(options.With(o => o.Seed = 4)).Batches(samples).ToList();
        other.SelectMany(b => b.UserIds).Should().NotEqual(bucketed.SelectMany(b => b.UserIds));
        // A lazy stream is shuffled inside the bounded buffer only: the first batch holds users from the first 80 samples.
        var streamed = new Batcher(options).Batches(samples.Select(s => s)).ToList();
        streamed[0].UserIds.Should().OnlyContain(u => u <= 80);
    }

    [Fact]
    public void AListIsShuffledWholeSoABatchMixesUsersFromAcrossIt()
    {
        // Sorted by user, as the authors' files are: ten samples per user, 100 users.
        var samples = Enumerable.Range(0, 1000).Select(i => Make(1 + (i / 10), 3)).ToList();
        var options = new BatcherOptions { BatchSize = 50, BufferBatches = 2, Shuffle = true, Seed = 7 };
        var batches = new Batcher(options).Batches(samples).ToList();

        batches.SelectMany(b => b.UserIds).Should().BeEquivalentTo(samples.Select(s => s.User), "every sample once");
        // A buffer of 100 samples from a sorted stream spans 10 users; the whole list spans 100.
        batches[0].UserIds.Distinct().Count().Should().BeGreaterThan(30);
        batches[0].UserIds.Max().Should().BeGreaterThan(50);
        new Batcher(options).Batches(samples).SelectMany(b => b.UserIds).Should().Equal(batches.SelectMany(b => b.UserIds), "seeded");
        new Batcher(options.With(o => o.Seed = 8)).Batches(samples).SelectMany(b => b.UserIds).Should().NotEqual(batches.SelectMany(b => b.UserIds));
        new Batcher(options.With(o => o.Shuffle = false)).Batches(samples).First().UserIds.Should().OnlyContain(u => u <= 5, "no shuffle keeps the order");
    }

    [Fact]
    public void ExtraFieldsAndNegativesAreLaidOutRowMajor()
    {
        var sampler = new NegativeSampler(Enumerable.Range(1, 50).Select(i => ((long)i, (long)(100 + i))), NegativeSampling.Uniform);
        var batch = new Batcher(new BatcherOptions { BatchSize = 2, NegativeSampler = sampler })
            .Batches([Make(1, 2, extra: [5, 6]), Make(2, 3, label: 0f, extra: [7, 8])]).Single();
        batch.Validate();
        batch.ExtraFieldCount.Should().Be(2);
        batch.ExtraFields.Should().Equal(5, 6, 7, 8);
        batch.Labels.Should().Equal(1, 0);
        for (int i = 0; i < batch.HistoryItems.Length; i++)
        {
            bool valid = i % 3 < batch.Lengths[i / 3];
            if (valid)
            {
                batch.NegativeItems![i].Should().NotBe(batch.HistoryItems[i]);
                batch.NegativeCategories![i].Should().Be(100 + batch.NegativeItems[i]);
            }
            else
            {
                batch.NegativeItems![i].Should().Be(0);
            }
        }
    }

    [Fact]
    public void BatchesKeepHistoriesPackedAndLayThePaddedArraysOutOnFirstRead()
    {
        var sampler = new NegativeSampler(Enumerable.Range(1, 50).Select(i => ((long)i, (long)(100 + i))), NegativeSampling.Uniform);
        var options = new BatcherOptions { BatchSize = 3, NegativeSampler = sampler, IncludeHistoryLabels = true };
        var batch = new Batcher(options).Batches([Make(1, 2), Make(2, 4), Make(3, 0)]).Single();

        // Packed: the valid positions row after row, and no padded array made for it.
        batch.ValidHistoryItems().Should().Equal(101, 102, 201, 202, 203, 204);
        batch.ValidHistoryCategories().Should().Equal(1, 2, 1, 2, 3, 4);
        var negatives = batch.ValidNegativeItems()!;
        negatives.Should().HaveCount(6);
        batch.ValidHistoryItems().Should().BeSameAs(batch.ValidHistoryItems(), "the packed column itself is read, not a copy");

        // The padded arrays: the same values at the valid positions, 0 in the padding, one array per column.
        batch.HistoryItems.Should().Equal(101, 102, 0, 0, 201, 202, 203, 204, 0, 0, 0, 0);
        batch.HistoryItems.Should().BeSameAs(batch.HistoryItems);
        batch.NegativeItems.Should().Equal(negatives[0], negatives[1], 0, 0, negatives[2], negatives[3], negatives[4], negatives[5], 0, 0, 0, 0);
        batch.HistoryLabels.Should().Equal(1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0);

        // The negatives are the draws the padded layout's Fill makes with the same seed.
        var padded = new long[12];
        var paddedCategories = new long[12];
        sampler.Fill(batch.HistoryItems, batch.Lengths, 4, padded, paddedCategories, new Random(options.Seed));
        batch.NegativeItems.Should().Equal(padded);
        batch.NegativeCategories.Should().Equal(paddedCategories);
    }

    [Fact]
    public void OnceAPaddedArrayIsReadItIsTheBatchsContent()
    {
        var batch = new Batcher(new BatcherOptions { BatchSize = 2 }).Batches([Make(1, 2), Make(2, 3)]).Single();
        batch.HistoryItems[4] = 999;
        batch.ValidHistoryItems().Should().Equal(101, 102, 201, 999, 203);
        using var tensors = new BehaviourBatch(batch);
        tensors.HistoryItems.Values<long>().Should().Equal(101, 102, 0, 201, 999, 203);
        tensors.ValidHistoryItems.Values<long>().Should().Equal(101, 102, 201, 999, 203);
    }

    [Fact]
    public void APackedBatchIsValidatedAsAPaddedOneIs()
    {
        var bad = Make(2, 3);
        bad.HistoryItems[1] = -5;
        var batch = new Batcher(new BatcherOptions { BatchSize = 2 }).Batches([Make(1, 2), bad]).Single();
        var act = () => batch.Validate();
        act.Should().Throw<ArgumentException>().WithMessage("HistoryItems[row 1, position 1] = -5*");
        var range = () => new BatchArrays
        {
            Size = batch.Size, Width = batch.Width, UserIds = batch.UserIds, TargetItems = batch.TargetItems, TargetCategories = batch.TargetCategories,
            Lengths = batch.Lengths, HistoryItems = batch.HistoryItems, HistoryCategories = batch.HistoryCategories,
        }.Validate();
        range.Should().Throw<ArgumentException>().WithMessage("HistoryItems[row 1, position 1] = -5*", "the padded copy says the same");

        var large = Make(2, 3);
        large.HistoryItems[2] = 1500;
        var packed = new Batcher(new BatcherOptions { BatchSize = 2 }).Batches([Make(1, 2), large]).Single();
        var sizes = new VocabularySizes(ItemVocabularySize: 1003, CategoryVocabularySize: 10, UserVocabularySize: 10, ExtraFieldVocabularySizes: []);
        var outOfRange = () => packed.EnsureIdsInRange(sizes);
        outOfRange.Should().Throw<ArgumentException>().WithMessage("HistoryItems[row 1, position 2] = 1500 is out of range*");
    }

    [Fact]
    public void MismatchedHistoryLengthsAreRejected()
    {
        var bad = Make(9, 3) with { HistoryCategories = [1, 2] };
        var act = () => new Batcher().Batches([bad]).ToList();
        act.Should().Throw<ArgumentException>().WithMessage("*user 9*3 history items but 2 history categories*");
        var options = () => new Batcher(new BatcherOptions { BatchSize = 0, BufferBatches = 0 });
        options.Should().Throw<DataOptionsException>().WithMessage("*BatchSize = 0*")
            .Which.Errors.Should().HaveCount(2, "every problem is reported at once");
    }
}

public sealed class BatcherStreamingTests
{
    [Fact]
    public void AnEndlessStreamYieldsBatchesAfterOneBufferOnly()
    {
        long pulled = 0;
        IEnumerable<Sample> Endless()
        {
            for (long u = 1; ; u++)
            {
                pulled++;
                yield return new Sample { Label = 1, User = u, TargetItem = 1, TargetCategory = 1, HistoryItems = [u], HistoryCategories = [1] };
            }
        }

        var first = new Batcher(new BatcherOptions { BatchSize = 8, BufferBatches = 4, Shuffle = true }).Batches(Endless()).Take(5).ToList();
        first.Should().HaveCount(5);
        pulled.Should().Be(64, "two buffers of 4 x 8 samples were filled, no more");
    }
}
