using Dien.Data.Converters;
using System.CommandLine;
using System.Globalization;
using Dien.Attention;
using Dien.Auxiliary;
using Dien.Evolution;
using Dien.Model;
using Dien.Runtime;
using Dien.Train;

// dotnet run -c Release --project samples/Dien.Train                 train DIEN on the synthetic workload
// dotnet run -c Release --project samples/Dien.Train -- --help       every option
// dotnet run -c Release --project samples/Dien.Train -- predict --checkpoint out/best.dien --user 7 --history 12,40,41
// Before the first TorchSharp call: shorter OpenMP spinning leaves the cores to the fused kernels (docs/performance.md).
OpenMpSpin.Shorten();
var data = new Option<DataSource>("--data") { Description = "Data source: synthetic (default, the benchmark workload), authors (a folder in the DIEN authors' format), amazon, movielens or taobao (a folder with the raw files; see --path), or events (your own event log in Parquet or CSV/TSV, mapped by --columns; docs/event-logs.md).", DefaultValueFactory = _ => DataSource.Synthetic };
var path = new Option<string?>("--path") { Description = "The folder (or, for taobao and events, a file) of the data source; not used by synthetic." };
var columns = new Option<string?>("--columns") { Description = "For --data events: which columns hold what, as key=column pairs: user, item and time are required; category, behaviour, label, targets and history (behaviour values separated by |) and timeunit (s or ms) are optional. E.g. user=user_id,item=item_id,time=ts,category=cat,behaviour=type,targets=pv." };
var split = new Option<string>("--split") { Description = "How logs are split into training and test: user (default: test users are unseen, the authors' protocol) or time:<cut>, training before the cut and testing after it as production does: time:last7d (the log's last 7 days; also h, m), time:2017-12-03 or time:1512259200. With a time split the validation data is the training period's latest events (--validation-fraction of them). For --data events, movielens and taobao.", DefaultValueFactory = _ => "user" };
var model = new Option<ModelKind>("--model") { Description = "dien (default), din or base.", DefaultValueFactory = _ => ModelKind.Dien };
var evolution = new Option<EvolutionVariant>("--evolution") { Description = "Interest evolution: augru (paper, default), augruauthorscode, agru, aigru or gru.", DefaultValueFactory = _ => EvolutionVariant.Augru };
var attention = new Option<AttentionForm>("--attention") { Description = "Attention: mlp (authors' code, default) or bilinear (paper eq. 8).", DefaultValueFactory = _ => AttentionForm.Mlp };
var auxiliary = new Option<AuxiliaryLossForm>("--aux") { Description = "Auxiliary loss, when --alpha is above 0: nextbehaviour (paper, default) or labelledhistory (needs per-behaviour labels: taobao, movielens).", DefaultValueFactory = _ => AuxiliaryLossForm.NextBehaviour };
var alpha = new Option<double>("--alpha") { Description = "Weight of the auxiliary loss (DIEN only); the library's default is the paper's 1; 0 switches it off.", DefaultValueFactory = _ => new CtrModelOptions().Alpha };
var epochs = new Option<int>("--epochs") { Description = "Training epochs.", DefaultValueFactory = _ => 10 };
var batchSize = new Option<int>("--batch-size") { Description = "Samples per training batch.", DefaultValueFactory = _ => 128 };
var learningRate = new Option<double>("--lr") { Description = "Adam learning rate.", DefaultValueFactory = _ => 1e-3 };
var maxHistory = new Option<int>("--max-history") { Description = "Keep the most recent N behaviours of each history.", DefaultValueFactory = _ => 100 };
var threads = new Option<int>("--threads") { Description = "libtorch intra-op threads (the fused kernels use as many workers).", DefaultValueFactory = _ => 2 };
var device = new Option<string>("--device") { Description = "cpu (default) or cuda (needs a CUDA build: -p:DienCuda=true).", DefaultValueFactory = _ => "cpu" };
var output = new Option<string>("--output") { Description = "Folder for checkpoints, metrics.json and training-curve.png.", DefaultValueFactory = _ => "out" };
var validationFraction = new Option<double>("--validation-fraction") { Description = "Share of the training users (with --split time:<cut>, of the training period's events, the latest) held out as validation data, which picks the epoch (early stopping, best checkpoint); the test file is then scored once. 0 picks the epoch on the test file instead (reported as such).", DefaultValueFactory = _ => 0.1 };
var validateOn = new Option<ValidationSamples>("--validate-on") { Description = "Which samples of the held-out users pick the epoch: all (default) or last (each user's last samples, as a test file split by user holds; fewer samples, noisier).", DefaultValueFactory = _ => ValidationSamples.All };
var targets = new Option<TrainingTargets?>("--targets") { Description = "For --data amazon, movielens, taobao or events: which behaviours of a training user become click pairs: everybehaviour (the library's default: one per behaviour, with the behaviours before it as history, as the authors' training files) or lastbehaviour (one per user). Histories are cut to --max-history." };
var patience = new Option<int>("--patience") { Description = "Stop after this many epochs without improvement of validation AUC; 0 never stops early.", DefaultValueFactory = _ => 2 };
var sumTerms = new Option<SumTerms>("--sum-terms") { Description = "Whether the head reads [sum e_t ; e_a * sum e_t]: auto (default: off for DIEN on the synthetic workload, whose small training set lets DIEN fit that shortcut instead of the recent interest; on otherwise, the library's default), on or off.", DefaultValueFactory = _ => SumTerms.Auto };
var userField = new Option<bool>("--user-field") { Description = "Give the model the user's own embedding row (CtrModelOptions.UseUserField). Off by default: split by user every test user is unseen; with --split time:<cut> the test users were seen in training, where it may pay.", DefaultValueFactory = _ => new CtrModelOptions().UseUserField };
var modelOptions = new Option<string?>("--options") { Description = "A CtrModelOptions JSON (a checkpoint's options.json, or the file given to the Python trainer's --options) for the layer widths and every other model option; the vocabulary sizes come from the data, and a model flag given on the command line (--evolution, --attention, --aux, --alpha, --sum-terms, --user-field) overrides the file." };
var seed = new Option<int>("--seed") { Description = "Seed of every random source (data, shuffling, initialisation).", DefaultValueFactory = _ => 2019 };

var root = new RootCommand("Trains DIEN (or the DIN and BaseModel baselines), picks the epoch on validation users held out of training, and reports validation AUC, GAUC and logloss per epoch and the test figures of the chosen epoch.")
{
    data, path, columns, split, model, modelOptions, evolution, attention, auxiliary, alpha, sumTerms, userField, epochs, batchSize, learningRate, maxHistory, threads, device, output, seed, validationFraction, validateOn, targets, patience,
};

using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};

root.SetAction(result => Guard(() =>
{
    var settings = new TrainSettings
    {
        Data = result.GetValue(data),
        DataPath = result.GetValue(path),
        Model = result.GetValue(model),
        Evolution = result.GetValue(evolution),
        Attention = result.GetValue(attention),
        Auxiliary = result.GetValue(auxiliary),
        Alpha = result.GetValue(alpha),
        SumTerms = result.GetValue(sumTerms),
        UseUserField = result.GetValue(userField),
        Epochs = result.GetValue(epochs),
        BatchSize = result.GetValue(batchSize),
        LearningRate = result.GetValue(learningRate),
        MaxHistory = result.GetValue(maxHistory),
        Threads = result.GetValue(threads),
        Device = result.GetValue(device)!,
        Output = result.GetValue(output)!,
        Seed = result.GetValue(seed),
        ValidationFraction = result.GetValue(validationFraction),
        ValidateOn = result.GetValue(validateOn),
        Targets = result.GetValue(targets),
        Patience = result.GetValue(patience),
        Columns = result.GetValue(columns),
        Split = result.GetValue(split)!,
        ModelOptionsFile = result.GetValue(modelOptions),
        GivenModelFlags = new Option[] { evolution, attention, auxiliary, alpha, sumTerms, userField }
            .Where(o => result.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToHashSet(),
    };
    var problems = settings.Problems();
    if (problems.Count > 0)
    {
        throw new ArgumentException(string.Join(" ", problems));
    }

    return TrainRun.Run(settings, cancellation.Token);
}));

var checkpoint = new Option<string>("--checkpoint") { Description = "A checkpoint written by the train command (e.g. out/best.dien).", Required = true };
var user = new Option<long>("--user") { Description = "The user id.", DefaultValueFactory = _ => 0 };
var history = new Option<string>("--history") { Description = "The user's behaviour item ids, oldest first, comma-separated.", Required = true };
var candidates = new Option<string?>("--candidates") { Description = "Candidate item ids, comma-separated; default: every item not in the history." };
var top = new Option<int>("--top") { Description = "How many of the best candidates to print.", DefaultValueFactory = _ => 10 };
var predict = new Command("predict", "Loads a checkpoint and ranks candidate items for one user.") { checkpoint, user, history, candidates, top };
predict.SetAction(result => Guard(() => PredictRun.Run(
    result.GetValue(checkpoint)!,
    result.GetValue(user),
    Ids(result.GetValue(history)!, "--history"),
    result.GetValue(candidates) is { } list ? Ids(list, "--candidates") : null,
    result.GetValue(top))));
root.Subcommands.Add(predict);

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    string message = string.Join(" ", parsed.Errors[0].Message.Split(['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    Console.Error.WriteLine($"error: {message} (see --help)");
    return 2;
}

return parsed.Invoke();

// Known failures become one line and a non-zero exit code, never a stack trace.
static int Guard(Func<int> run)
{
    try
    {
        return run();
    }
    catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or UnauthorizedAccessException or FormatException)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return 1;
    }
}

static long[] Ids(string text, string option) => text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
    .Select(part => long.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out long id) && id > 0
        ? id
        : throw new ArgumentException($"{option}: '{part}' is not a positive item id."))
    .ToArray();
