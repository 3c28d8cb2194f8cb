using Dien.Data;
using Dien.Data.Batching;
using Dien.Data.Converters;
using Dien.Data.Formats;
using Dien.Data.Synthetic;

namespace Dien.Bench;

/// <summary>The train and test samples the quality benchmark runs on, with the vocabulary sizes a model needs.</summary>
/// <param name="Name">A short name for tables: the folder's name, or synthetic.</param>
/// <param name="Description">What the data is, for the log.</param>
/// <param name="Train">The training samples (the validation users are split off them).</param>
/// <param name="Test">The test samples, scored once per run.</param>
/// <param name="Items">Item vocabulary size, padding included.</param>
/// <param name="Categories">Category vocabulary size, padding included.</param>
/// <param name="Users">User vocabulary size, padding included.</param>
/// <param name="Sampler">Builds the auxiliary loss's negative sampler in the given mode.</param>
internal sealed record QualityData(
    string Name,
    string Description,
    IReadOnlyList<Sample> Train,
    IReadOnlyList<Sample> Test,
    long Items,
    long Categories,
    long Users,
    Func<NegativeSampling, NegativeSampler> Sampler)
{
    /// <summary>The word <c>--path</c> takes for the built-in synthetic workload (<c>synthetic:N</c> asks for N samples).</summary>
    public const string SyntheticPath = "synthetic";

    /// <summary>The prefix of <c>--path</c> for a MovieLens folder (<c>ratings.csv</c>, <c>movies.csv</c>), converted with every rating as a target.</summary>
    public const string MovieLensPrefix = "movielens:";

    /// <summary>
    /// Loads a folder in the authors' format, a MovieLens folder (<c>movielens:</c>folder), or the synthetic workload of the sample's first command (its default
    /// options and data seed 2019, so that every model seed trains on the same samples).
    /// </summary>
    public static QualityData Load(string path)
    {
        if (path == SyntheticPath || path.StartsWith(SyntheticPath + ":", StringComparison.Ordinal))
        {
            var options = new SyntheticOptions();
            if (path.Length > SyntheticPath.Length)
            {
                string count = path[(SyntheticPath.Length + 1)..];
                options.Samples = int.TryParse(count, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int samples) && samples > 0
                    ? samples
                    : throw new ArgumentException($"--path {path}: expected synthetic or synthetic:N with N a positive number of samples.");
            }

            var split = SyntheticGenerator.Generate(options);
            return new QualityData(
                "synthetic", $"synthetic ({options.Samples:N0} samples, seed {options.Seed})", split.Train, split.Test, options.Items + 1, options.Categories + 1, options.Users + 1,
                mode => NegativeSampler.FromHistories(split.Train, mode));
        }

        if (path.StartsWith(MovieLensPrefix, StringComparison.Ordinal))
        {
            // The converter's defaults: every rating a target (prefix pairs, as the authors' training files), the most recent 100 as history.
            string folder = path[MovieLensPrefix.Length..];
            var options = new ConversionOptions { TestUserFraction = 0.1 };
            var ratings = MovieLensConverter.Convert(Path.Combine(folder, "ratings.csv"), Path.Combine(folder, "movies.csv"), options);
            return new QualityData(
                "movielens", $"MovieLens ratings in {folder} as prefix pairs (histories up to 100, 10 % of the users as the test file)", ratings.Train, ratings.Test,
                ratings.Items.Size, ratings.Categories.Size, ratings.Users.Size, ratings.CreateNegativeSampler);
        }

        var data = AuthorsDataset.Load(path);
        return new QualityData(
            Path.GetFileName(Path.TrimEndingDirectorySeparator(path)), $"authors' files in {path}", data.Train, data.Test, data.Vocabularies.Items.Size, data.Vocabularies.Categories.Size, data.Vocabularies.Users.Size,
            data.CreateNegativeSampler);
    }
}
