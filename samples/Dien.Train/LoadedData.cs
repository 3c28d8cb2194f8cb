using Dien.Checkpoints;
using Dien.Data;
using Dien.Data.Batching;
using Dien.Data.Converters;
using Dien.Data.Formats;
using Dien.Data.Synthetic;

namespace Dien.Train;

/// <summary>Train and test samples with what a model and a checkpoint need to know about them.</summary>
internal sealed record LoadedData(
    string Description,
    IReadOnlyList<Sample> Train,
    IReadOnlyList<Sample> Test,
    long ItemVocabularySize,
    long CategoryVocabularySize,
    long UserVocabularySize,
    NegativeSampler Sampler,
    CheckpointData Maps)
{
    /// <summary>Validation samples the source gives itself (a split by time: the training period's last slice); null: hold users out.</summary>
    public IReadOnlyList<Sample>? Validation { get; init; }

    /// <summary>Loads the data source the settings name.</summary>
    /// <exception cref="FileNotFoundException">An expected file is missing from the folder.</exception>
    public static LoadedData Load(TrainSettings settings) => settings.Data switch
    {
        DataSource.Synthetic => Synthetic(settings.Seed),
        DataSource.Authors => Authors(settings.DataPath!),
        DataSource.Amazon => Converted("Amazon", AmazonSequenceConverter.Convert(
            Find(settings.DataPath!, "*.txt"), Find(settings.DataPath!, "*item2attributes.json"), Conversion(settings))),
        DataSource.MovieLens => Converted("MovieLens", MovieLensConverter.Convert(
            Find(settings.DataPath!, "ratings.csv"), Find(settings.DataPath!, "movies.csv"), Conversion(settings))),
        DataSource.Taobao => Converted("Taobao", TaobaoConverter.Convert(
            File.Exists(settings.DataPath) ? [settings.DataPath!] : Directory.GetFiles(settings.DataPath!, "*.csv").Order(StringComparer.Ordinal).ToArray(),
            Conversion(settings))),
        DataSource.Events => Converted("events", EventLogConverter.Convert(settings.DataPath!, EventColumns.Parse(settings.Columns!), Conversion(settings))),
        _ => throw new ArgumentOutOfRangeException(nameof(settings), settings.Data, "Unknown data source."),
    };

    // Histories are cut where the batcher would cut them: every behaviour as a target multiplies what is kept.
    private static ConversionOptions Conversion(TrainSettings settings)
    {
        var options = new ConversionOptions { Seed = settings.Seed, MaxHistoryLength = settings.MaxHistory, SplitByTime = settings.TimeSplit };
        options.TrainingTargets = settings.Targets ?? options.TrainingTargets;
        return options;
    }

    private static LoadedData Synthetic(int seed)
    {
        var options = new SyntheticOptions { Seed = seed };
        var split = SyntheticGenerator.Generate(options);
        var itemCategories = Enumerable.Range(1, options.Items).ToDictionary(i => (long)i, i => SyntheticGenerator.CategoryOf(i, options));
        return new LoadedData(
            $"synthetic: {options.Samples:N0} samples, {options.Items:N0} items, {options.Categories} categories, history {options.MinHistoryLength}..{options.MaxHistoryLength}",
            split.Train, split.Test, options.Items + 1, options.Categories + 1, options.Users + 1,
            NegativeSampler.FromHistories(split.Train),
            new CheckpointData { ItemCategories = itemCategories });
    }

    private static LoadedData Converted(string name, ConvertedDataset data)
    {
        var itemCategories = new Dictionary<long, long>();
        for (int item = 1; item < data.ItemCategories.Length; item++)
        {
            itemCategories[item] = data.ItemCategories[item];
        }

        string validation = data.Validation.Count > 0 ? $" / {data.Validation.Count:N0} validation" : string.Empty;
        string skipped = data.Summary.SkippedLines > 0 ? $"; {data.Summary.SkippedLines:N0} bad lines skipped" : string.Empty;
        return new LoadedData(
            $"{name}: {data.Train.Count:N0} train{validation} / {data.Test.Count:N0} test samples, {data.Users.Count:N0} users, {data.Items.Count:N0} items, {data.Categories.Count:N0} categories{skipped}",
            data.Train, data.Test, data.Items.Size, data.Categories.Size, data.Users.Size,
            data.CreateNegativeSampler(),
            new CheckpointData { ItemCategories = itemCategories, Items = Widen(data.Items), Categories = Widen(data.Categories), Users = Widen(data.Users) })
        {
            Validation = data.Validation.Count > 0 ? data.Validation : null,
        };
    }

    private static LoadedData Authors(string folder)
    {
        var data = AuthorsDataset.Load(folder);
        var vocabularies = data.Vocabularies;
        // Item 0 is every item the vocabulary does not know: it has no category of its own, so it is left out.
        var itemCategories = new Dictionary<long, long>();
        foreach (var sample in data.Train.Concat(data.Test))
        {
            if (sample.TargetItem != 0)
            {
                itemCategories[sample.TargetItem] = sample.TargetCategory;
            }

            for (int t = 0; t < sample.HistoryLength; t++)
            {
                if (sample.HistoryItems[t] != 0)
                {
                    itemCategories[sample.HistoryItems[t]] = sample.HistoryCategories[t];
                }
            }
        }

        return new LoadedData(
            $"authors' files in {folder}: {data.Train.Count:N0} train / {data.Test.Count:N0} test samples (vocabularies: {vocabularies.Sources})",
            data.Train, data.Test, vocabularies.Items.Size, vocabularies.Categories.Size, vocabularies.Users.Size,
            data.CreateNegativeSampler(),
            new CheckpointData { ItemCategories = itemCategories, Items = Widen(vocabularies.Items), Categories = Widen(vocabularies.Categories), Users = Widen(vocabularies.Users) });
    }

    private static IReadOnlyDictionary<string, long> Widen(Vocabulary vocabulary)
        => vocabulary.Entries.ToDictionary(e => e.Key, e => (long)e.Value);

    private static string Find(string folder, string pattern)
    {
        var match = Directory.Exists(folder) ? Directory.GetFiles(folder, pattern).Order(StringComparer.Ordinal).FirstOrDefault() : null;
        return match ?? throw new FileNotFoundException($"--path {folder}: no file matching '{pattern}' there.");
    }
}
