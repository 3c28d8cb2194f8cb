using Dien.Data;
using Dien.Data.Batching;
using Dien.Data.Formats;
using Dien.Data.Synthetic;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Data;

public sealed class PipelineTests
{
    [Fact]
    public void GeneratorToAuthorsFilesToStreamedBatches()
    {
        using var folder = new TempFolder();
        var options = new SyntheticOptions { Samples = 1000 };
        var split = SyntheticGenerator.Generate(options);
        string train = Path.Combine(folder.Path, "local_train_splitByUser");
        AuthorsFormatWriter.Write(train, split.Train, u => $"U{u}", i => $"I{i}", c => $"C{c}");
        var vocabularies = AuthorsVocabularies.Load(folder.Path, train);
        vocabularies.WritePickles(folder.Path);
        var reloaded = AuthorsVocabularies.Load(folder.Path, train);
        reloaded.Sources.Items.Should().Be(VocabularySource.Pickle);
        reloaded.Items.Entries.Should().Equal(vocabularies.Items.Entries);

        var reader = new AuthorsFormatReader(train, reloaded);
        var sampler = NegativeSampler.FromHistories(reader.Read());
        sampler.DistinctItems.Should().Be(split.Train.SelectMany(s => s.HistoryItems).Distinct().Count());
        var batcher = new Batcher(new BatcherOptions { BatchSize = 64, Shuffle = true, BucketByLength = true, NegativeSampler = sampler });
        var model = new Dien.Model.CtrModelOptions { UserVocabularySize = reloaded.Users.Size, ItemVocabularySize = reloaded.Items.Size, CategoryVocabularySize = reloaded.Categories.Size };
        int rows = 0;
        foreach (var batch in batcher.Batches(reader.Read()))
        {
            batch.Validate();
            batch.EnsureIdsInRange(model.ToVocabularySizes());
            batch.HistoryItems.Take(batch.Lengths[0]).Should().NotContain(0);
            rows += batch.Size;
        }

        rows.Should().Be(800);
        reader.Summary!.Samples.Should().Be(800);
    }
}
