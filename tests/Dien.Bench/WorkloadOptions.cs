using System.Globalization;
using Dien.Attention;
using Dien.Data;
using Dien.Data.Batching;
using Dien.Data.Synthetic;
using Dien.Evolution;
using Dien.Model;
using TorchSharp;

namespace Dien.Bench;

/// <summary>The parameters of workload W, each a flag; the defaults are W.</summary>
internal sealed record WorkloadOptions
{
    public int Samples { get; init; } = 20_000;
    public int Items { get; init; } = 1_000;
    public int Categories { get; init; } = 50;
    public int MinHistory { get; init; } = 5;
    public int MaxHistory { get; init; } = 50;
    public int Embedding { get; init; } = 18;
    public int Hidden { get; init; } = 36;
    public int Batch { get; init; } = 128;
    public double LearningRate { get; init; } = 1e-3;
    public EvolutionVariant Evolution { get; init; } = EvolutionVariant.Augru;
    public AttentionForm Attention { get; init; } = AttentionForm.Mlp;
    public double Alpha { get; init; } = 1.0;
    public int Epochs { get; init; } = 3;
    public int Threads { get; init; } = 2;
    public int Seed { get; init; } = 2019;
    public bool ReleaseMemory { get; init; } = true;

    /// <summary>A folder in the authors' format to take the samples from instead of W's generator (W's model otherwise).</summary>
    public string? DataPath { get; init; }

    /// <summary>Whether training batches are bucketed by length (W's setting) or drawn as the library's defaults draw them.</summary>
    public bool Bucket { get; init; } = true;

    /// <summary>Whether the auxiliary loss may run into the backward, as <c>CtrTrainer</c> lets it (off to measure the join in the forward).</summary>
    public bool DeferAuxiliary { get; init; } = true;

    /// <summary>
    /// Sets libtorch's thread count and seed, generates W's data and returns it with the negative sampler
    /// and the model options every W run uses.
    /// </summary>
    public (SampleSplit Data, NegativeSampler Sampler, CtrModelOptions Options) Prepare()
    {
        torch.set_num_threads(Threads);
        torch.manual_seed(Seed);
        if (DataPath is not null)
        {
            // A real set with W's model widths: popularity draws, the library's default for real data.
            var real = QualityData.Load(DataPath);
            return (new SampleSplit(real.Train, real.Test), real.Sampler(NegativeSampling.Popularity), ModelOptions(real.Items, real.Categories, real.Users));
        }

        var synthetic = GeneratorOptions();
        var data = SyntheticGenerator.Generate(synthetic);
        // W keeps the uniform draws it was first measured with, so its figures compare across releases.
        return (data, NegativeSampler.FromHistories(data.Train, NegativeSampling.Uniform), ModelOptions(synthetic));
    }

    /// <summary>The synthetic generator's settings for W.</summary>
    public SyntheticOptions GeneratorOptions() => new()
    {
        Samples = Samples, Items = Items, Categories = Categories,
        MinHistoryLength = MinHistory, MaxHistoryLength = MaxHistory, Seed = Seed,
    };

    /// <summary>DIEN as W defines it, with vocabularies sized for the generated data.</summary>
    public CtrModelOptions ModelOptions(SyntheticOptions synthetic) => ModelOptions(Items + 1, Categories + 1, synthetic.Users + 1);

    /// <summary>DIEN as W defines it, with the given vocabulary sizes (padding included).</summary>
    public CtrModelOptions ModelOptions(long items, long categories, long users) => new()
    {
        ItemVocabularySize = items, CategoryVocabularySize = categories, UserVocabularySize = users,
        ItemEmbeddingSize = Embedding, CategoryEmbeddingSize = Embedding, UserEmbeddingSize = Embedding,
        HiddenSize = Hidden, Evolution = Evolution, Attention = Attention, Alpha = Alpha,
    };

    /// <summary>Reads <c>--name value</c> pairs after the mode word.</summary>
    /// <exception cref="ArgumentException">An unknown flag or a value that does not parse; the message names it.</exception>
    public static WorkloadOptions Parse(IReadOnlyList<string> args)
    {
        var o = new WorkloadOptions();
        for (int i = 1; i < args.Count; i += 2)
        {
            string flag = args[i];
            string value = i + 1 < args.Count ? args[i + 1] : throw new ArgumentException($"{flag} needs a value.");
            int Int() => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : throw new ArgumentException($"{flag} {value}: expected a positive whole number.");
            double Real() => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v >= 0 ? v : throw new ArgumentException($"{flag} {value}: expected a number >= 0.");
            o = flag switch
            {
                "--samples" => o with { Samples = Int() },
                "--items" => o with { Items = Int() },
                "--categories" => o with { Categories = Int() },
                "--min-history" => o with { MinHistory = Int() },
                "--max-history" => o with { MaxHistory = Int() },
                "--embedding" => o with { Embedding = Int() },
                "--hidden" => o with { Hidden = Int() },
                "--batch" => o with { Batch = Int() },
                "--lr" => o with { LearningRate = Real() },
                "--evolution" => o with { Evolution = Enum.Parse<EvolutionVariant>(value, ignoreCase: true) },
                "--attention" => o with { Attention = Enum.Parse<AttentionForm>(value, ignoreCase: true) },
                "--alpha" => o with { Alpha = Real() },
                "--epochs" => o with { Epochs = Int() },
                "--threads" => o with { Threads = Int() },
                "--seed" => o with { Seed = Int() },
                "--path" => o with { DataPath = value },
                "--bucket" => o with { Bucket = bool.TryParse(value, out bool bucket) ? bucket : throw new ArgumentException($"{flag} {value}: expected true or false.") },
                "--defer-auxiliary" => o with { DeferAuxiliary = bool.TryParse(value, out bool defer) ? defer : throw new ArgumentException($"{flag} {value}: expected true or false.") },
                "--release-memory" => o with { ReleaseMemory = bool.TryParse(value, out bool b) ? b : throw new ArgumentException($"{flag} {value}: expected true or false.") },
                _ => throw new ArgumentException($"{flag}: unknown flag (see the usage at the top of Program.cs)."),
            };
        }

        return o;
    }
}
