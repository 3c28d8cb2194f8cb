using Dien.Attention;
using Dien.Auxiliary;
using Dien.Evolution;
using Dien.Model;

namespace Dien.Train;

/// <summary>Where the samples come from.</summary>
internal enum DataSource
{
    /// <summary>The seeded generator with evolving interests (the benchmark workload).</summary>
    Synthetic,

    /// <summary>A folder in the DIEN authors' format (local_train_splitByUser, local_test_splitByUser, vocabularies).</summary>
    Authors,

    /// <summary>Amazon per-user sequences with item attributes (Beauty.txt + Beauty_item2attributes.json).</summary>
    Amazon,

    /// <summary>MovieLens ratings.csv + movies.csv.</summary>
    MovieLens,

    /// <summary>Taobao UserBehavior CSV files.</summary>
    Taobao,

    /// <summary>A user's own event log: a Parquet or CSV/TSV file, or a folder of part files, mapped by --columns.</summary>
    Events,
}

/// <summary>Which model to train.</summary>
internal enum ModelKind
{
    /// <summary>DIEN.</summary>
    Dien,

    /// <summary>DIN: attention over the behaviours, no GRU.</summary>
    Din,

    /// <summary>Embedding and MLP with sum pooling.</summary>
    Base,
}

/// <summary>Whether the head reads the sum terms [sum e_t ; e_a * sum e_t] (<see cref="CtrModelOptions.HeadSumTerms"/>).</summary>
internal enum SumTerms
{
    /// <summary>Off for DIEN on the synthetic workload, the library's default otherwise (see <see cref="TrainSettings.HeadSumTerms"/>).</summary>
    Auto,

    /// <summary>The head reads them.</summary>
    On,

    /// <summary>The head does not read them.</summary>
    Off,
}

/// <summary>Which samples of the held-out users score each epoch.</summary>
internal enum ValidationSamples
{
    /// <summary>All of them (more samples, less noise in the epoch choice).</summary>
    All,

    /// <summary>Each held-out user's last samples only, the test file's distribution (<see cref="Dien.Data.ValidationSplit.LastPerUser"/>).</summary>
    Last,
}

/// <summary>Everything the train command was asked for.</summary>
internal sealed record TrainSettings
{
    public DataSource Data { get; init; } = DataSource.Synthetic;

    public string? DataPath { get; init; }

    public ModelKind Model { get; init; } = ModelKind.Dien;

    public EvolutionVariant Evolution { get; init; } = EvolutionVariant.Augru;

    public AttentionForm Attention { get; init; } = AttentionForm.Mlp;

    public AuxiliaryLossForm Auxiliary { get; init; } = AuxiliaryLossForm.NextBehaviour;

    public double Alpha { get; init; } = new CtrModelOptions().Alpha;

    public int Epochs { get; init; } = 10;

    public int BatchSize { get; init; } = 128;

    public double LearningRate { get; init; } = 1e-3;

    public int MaxHistory { get; init; } = 100;

    public int Threads { get; init; } = 2;

    public string Device { get; init; } = "cpu";

    public string Output { get; init; } = "out";

    public int Seed { get; init; } = 2019;

    /// <summary>Share of the training users held out to pick the epoch; 0 picks it on the test file (and says so).</summary>
    public double ValidationFraction { get; init; } = 0.1;

    /// <summary>Which samples of the held-out users pick the epoch (--validate-on).</summary>
    public ValidationSamples ValidateOn { get; init; } = ValidationSamples.All;

    /// <summary>
    /// Which behaviours of a converted log's training users become pairs (--targets); null keeps the library's
    /// default. The authors' files and the synthetic set have their own.
    /// </summary>
    public Dien.Data.Converters.TrainingTargets? Targets { get; init; }

    /// <summary>The event log's column mapping (--columns), for --data events.</summary>
    public string? Columns { get; init; }

    /// <summary>How the log is split (--split): "user" (default) or "time:&lt;cut&gt;".</summary>
    public string Split { get; init; } = "user";

    /// <summary>The time split that <see cref="Split"/> asks for, or null for the split by user (throws on a bad cut: see <see cref="Problems"/>).</summary>
    public Dien.Data.Converters.TimeSplit? TimeSplit => Split.StartsWith("time:", StringComparison.OrdinalIgnoreCase)
        ? Dien.Data.Converters.TimeSplit.Parse(Split["time:".Length..]) with { ValidationFraction = ValidationFraction }
        : null;

    /// <summary>Epochs without improvement of validation AUC before stopping; 0 never stops early.</summary>
    public int Patience { get; init; } = 2;

    /// <summary>Whether the model reads the user's own embedding row (--user-field).</summary>
    public bool UseUserField { get; init; }

    /// <summary>A <see cref="CtrModelOptions"/> JSON to take the model's options from (--options), or null for the library's defaults.</summary>
    public string? ModelOptionsFile { get; init; }

    /// <summary>
    /// The model flags (--evolution, --attention, --aux, --alpha, --sum-terms, --user-field) given on the command
    /// line. With an --options file only these override it; without one every flag applies, given or default.
    /// </summary>
    public IReadOnlySet<string> GivenModelFlags { get; init; } = new HashSet<string>();

    /// <summary>Whether the model flag <paramref name="flag"/> (e.g. "--alpha") sets its option: always without an --options file, else only when given.</summary>
    public bool Sets(string flag) => ModelOptionsFile is null || GivenModelFlags.Contains(flag);

    /// <summary>The head's sum terms as asked (--sum-terms).</summary>
    public SumTerms SumTerms { get; init; } = SumTerms.Auto;

    /// <summary>
    /// True when <c>--sum-terms auto</c> turns the sum terms off, which it does for DIEN on the synthetic workload
    /// only: there the product e_a * sum e_t is a shortcut that DIEN fits on 16,000 training samples before its
    /// recurrent path learns the recent interest (test AUC 0.63 with the terms, 0.87 without, seeds 1-3;
    /// docs/research/quality-history.md), while BaseModel and DIN, which cannot see the order, gain from them.
    /// </summary>
    public bool AutoTurnsSumTermsOff => SumTerms == SumTerms.Auto && Data == DataSource.Synthetic && Model == ModelKind.Dien;

    /// <summary>What <see cref="SumTerms"/> resolves to; otherwise auto keeps the library's default (on), chosen on Amazon Beauty.</summary>
    public bool HeadSumTerms => SumTerms switch
    {
        SumTerms.On => true,
        SumTerms.Off => false,
        _ => !AutoTurnsSumTermsOff && new CtrModelOptions().HeadSumTerms,
    };

    /// <summary>Every problem with the settings, each naming its option.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (Epochs < 1) problems.Add($"--epochs {Epochs}: must be at least 1.");
        if (BatchSize < 2) problems.Add($"--batch-size {BatchSize}: must be at least 2 (BatchNorm needs two rows).");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) problems.Add($"--lr {LearningRate}: must be positive.");
        if (Alpha < 0 || double.IsNaN(Alpha) || double.IsInfinity(Alpha)) problems.Add($"--alpha {Alpha}: must be zero or positive.");
        if (Auxiliary == AuxiliaryLossForm.LabelledHistory && Alpha == 0 && Model == ModelKind.Dien) problems.Add("--aux labelledhistory needs --alpha above 0: alpha 0 switches the auxiliary loss off.");
        if (MaxHistory < 1) problems.Add($"--max-history {MaxHistory}: must be at least 1.");
        if (Targets is not null && Data is DataSource.Synthetic or DataSource.Authors)
        {
            problems.Add($"--targets {Targets}: only --data amazon, movielens, taobao or events are converted from logs; --data {Data.ToString().ToLowerInvariant()} has its samples already.");
        }

        if (Data == DataSource.Events && string.IsNullOrWhiteSpace(Columns)) problems.Add("--data events needs --columns (e.g. --columns user=user_id,item=item_id,time=timestamp).");
        if (Columns is not null && Data != DataSource.Events) problems.Add($"--columns: only --data events maps columns; --data {Data.ToString().ToLowerInvariant()} has its own layout.");
        if (Columns is not null && Data == DataSource.Events)
        {
            try
            {
                problems.AddRange(Dien.Data.Converters.EventColumns.Parse(Columns).Validate().Select(p => $"--columns {Columns}: {p}"));
            }
            catch (FormatException e)
            {
                problems.Add($"--{e.Message}");
            }
        }

        if (!Split.Equals("user", StringComparison.OrdinalIgnoreCase) && !Split.StartsWith("time:", StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"--split {Split}: must be user (default) or time:<cut> (time:last7d, time:2017-12-03, time:1512259200).");
        }
        else if (Split.StartsWith("time:", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                _ = TimeSplit;
                if (Data is not (DataSource.Events or DataSource.MovieLens or DataSource.Taobao))
                {
                    problems.Add($"--split {Split}: only logs with timestamps split by time (--data events, movielens or taobao); --data {Data.ToString().ToLowerInvariant()} has none.");
                }
            }
            catch (FormatException e)
            {
                problems.Add($"--split {Split}: {e.Message}");
            }
        }

        if (!(ValidationFraction >= 0 && ValidationFraction < 1)) problems.Add($"--validation-fraction {ValidationFraction}: must be in [0, 1) (0 selects the epoch on the test file).");
        if (Patience < 0) problems.Add($"--patience {Patience}: must be zero (never stop early) or positive.");
        if (Threads < 1) problems.Add($"--threads {Threads}: must be at least 1.");
        if (Device is not ("cpu" or "cuda")) problems.Add($"--device {Device}: must be cpu or cuda.");
        if (Data != DataSource.Synthetic && string.IsNullOrWhiteSpace(DataPath)) problems.Add($"--data {Data.ToString().ToLowerInvariant()} needs --path (a folder).");
        if (DataPath is not null && !Directory.Exists(DataPath) && !File.Exists(DataPath)) problems.Add($"--path {DataPath}: no such file or folder.");
        if (ModelOptionsFile is not null && !File.Exists(ModelOptionsFile)) problems.Add($"--options {ModelOptionsFile}: no such file.");
        return problems;
    }
}
