using Dien.Data.Batching;

namespace Dien.Data.Formats;

/// <summary>
/// A whole folder in the DIEN authors' format, read into memory: the training and test samples, the
/// vocabularies that gave their ids, and the pool of sampled negatives for the auxiliary loss.
/// </summary>
/// <param name="Train">The samples of <c>local_train_splitByUser</c>, in file order.</param>
/// <param name="Test">The samples of <c>local_test_splitByUser</c>, in file order.</param>
/// <param name="Vocabularies">The id tables (read from the folder, or rebuilt from the training file).</param>
/// <param name="NegativePool">
/// (item, category) occurrences to draw negatives from: the item column of <c>reviews-info</c> with categories
/// from <c>item-info</c> when both files exist (as the authors sample), otherwise every training history behaviour.
/// </param>
public sealed record AuthorsDataset(
    IReadOnlyList<Sample> Train,
    IReadOnlyList<Sample> Test,
    AuthorsVocabularies Vocabularies,
    IReadOnlyList<(long Item, long Category)> NegativePool)
{
    /// <summary>The training file's name in an authors' folder.</summary>
    public const string TrainFile = "local_train_splitByUser";

    /// <summary>The test file's name in an authors' folder.</summary>
    public const string TestFile = "local_test_splitByUser";

    /// <summary>Reads <paramref name="folder"/>.</summary>
    /// <param name="folder">A folder with <see cref="TrainFile"/> and <see cref="TestFile"/>, and optionally the vocabularies, <c>item-info</c> and <c>reviews-info</c>.</param>
    /// <param name="options">Bad-line handling; default: throw on the first malformed line.</param>
    /// <returns>The data set.</returns>
    /// <exception cref="FileNotFoundException">The folder lacks the training or the test file; the message names the folder.</exception>
    /// <exception cref="DataFormatException">A line is malformed (file, line number and reason in the message).</exception>
    public static AuthorsDataset Load(string folder, ReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string train = Require(folder, TrainFile), test = Require(folder, TestFile);
        var vocabularies = AuthorsVocabularies.Load(folder, train, options);
        var trainSamples = new AuthorsFormatReader(train, vocabularies, options).Read().ToList();
        var testSamples = new AuthorsFormatReader(test, vocabularies, options).Read().ToList();
        string reviews = Path.Combine(folder, "reviews-info"), items = Path.Combine(folder, "item-info");
        IReadOnlyList<(long, long)> pool = File.Exists(reviews) && File.Exists(items)
            ? AuthorsSideFiles.ReadNegativePool(reviews, items, vocabularies, options)
            : trainSamples.SelectMany(s => s.HistoryItems.Zip(s.HistoryCategories)).ToList();
        return new AuthorsDataset(trainSamples, testSamples, vocabularies, pool);
    }

    /// <summary>A sampler of auxiliary-loss negatives over <see cref="NegativePool"/>.</summary>
    /// <param name="mode">By how often each item occurs in the pool (the default, as the authors draw), or uniform over its distinct items.</param>
    public NegativeSampler CreateNegativeSampler(NegativeSampling mode = NegativeSampling.Popularity) => new(NegativePool, mode);

    private static string Require(string folder, string name)
    {
        string path = Path.Combine(folder, name);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{folder}: no '{name}' there (an authors'-format folder needs {TrainFile} and {TestFile}).", path);
    }
}
