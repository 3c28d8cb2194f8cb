using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Dien.Inference;
using Dien.Model;
using TorchSharp;

namespace Dien.Bench;

/// <summary>
/// Ranking many candidates per request (docs/performance.md, "Ranking"): rows/s of W's DIEN (and DIN, BaseModel)
/// with each request's history encoded once, against the row-per-candidate path that copies the history into every
/// candidate's row, in the same process, passes interleaved so that both see the same machine load.
/// </summary>
internal static class RankingBenchmark
{
    private const string Usage = """
        rank [--candidates 100 --history 25 --requests 200 --gather 1,10 --passes 3 --models dien,din,base --threads 2 --seed 2019 --checkpoint none]
          Scores --requests requests (one user, --history behaviours, --candidates candidates each) per pass with W's
          model options, --gather requests per model call (1: CtrPredictor.ScoreCandidates; 10: what BatchingScorer
          gathers at 100 candidates), each history encoded once (new) and copied into every row (before).
          --checkpoint PATH scores with that checkpoint's model (e.g. the Serve sample's out/best.dien) instead of --models.
        """;

    public static void Run(string[] args)
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["--candidates"] = "100", ["--history"] = "25", ["--requests"] = "200", ["--gather"] = "1,10", ["--passes"] = "3",
            ["--models"] = "dien,din,base", ["--threads"] = "2", ["--seed"] = "2019", ["--checkpoint"] = "none",
        };
        for (int i = 1; i < args.Length; i += 2)
        {
            if (!settings.ContainsKey(args[i]) || i + 1 == args.Length)
            {
                throw new ArgumentException($"{args[i]}: unknown option or missing value.\n{Usage}");
            }

            settings[args[i]] = args[i + 1];
        }

        int Int(string key) => int.TryParse(settings[key], NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v > 0
            ? v : throw new ArgumentException($"{key} {settings[key]}: expected a positive whole number.");
        int candidates = Int("--candidates"), history = Int("--history"), requests = Int("--requests"), passes = Int("--passes"), threads = Int("--threads"), seed = Int("--seed");
        var gathers = settings["--gather"].Split(',').Select(g => int.TryParse(g, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : throw new ArgumentException($"--gather {g}: expected positive whole numbers.")).ToArray();
        string checkpoint = settings["--checkpoint"];
        var models = checkpoint == "none" ? settings["--models"].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : ["checkpoint"];

        torch.set_num_threads(threads);
        var w = new WorkloadOptions { Seed = seed, Threads = threads };
        var options = checkpoint == "none" ? w.ModelOptions(w.GeneratorOptions()) : Dien.Checkpoints.Checkpoint.Read(checkpoint).Options;
        var random = new Random(seed);
        var calls = Enumerable.Range(0, requests).Select(_ =>
        {
            var items = Enumerable.Range(0, history).Select(_ => (long)random.Next(1, w.Items + 1)).ToArray();
            var candidateItems = Enumerable.Range(0, candidates).Select(_ => (long)random.Next(1, w.Items + 1)).ToArray();
            return CandidateRequest.From(
                random.Next(1, (int)options.UserVocabularySize), items, items.Select(i => (i % w.Categories) + 1).ToArray(),
                candidateItems, candidateItems.Select(i => (i % w.Categories) + 1).ToArray(), null);
        }).ToList();

        Console.WriteLine($"rank: {requests} requests per pass x {passes} passes, 1 user x {candidates} candidates, history {history}; " +
                          $"{(checkpoint == "none" ? "W's options, untrained weights" : $"checkpoint {checkpoint}")} (E = {options.BehaviourSize}, H = {options.HiddenSize}, {options.Evolution}, {options.Attention} attention), {threads} thread(s), " +
                          $"{Environment.ProcessorCount} cores, load average {ComparisonRun.LoadAverage()} before the run");
        Console.WriteLine("| model | requests per call | before: rows/s | now: rows/s | now / before | largest difference |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        var figures = new Dictionary<string, object?>
        {
            ["candidates"] = candidates, ["history"] = history, ["requests"] = requests, ["passes"] = passes, ["threads"] = threads, ["load_average_before"] = ComparisonRun.LoadAverage(),
        };
        foreach (string kind in models)
        {
            torch.manual_seed(seed);
            using var predictor = kind == "checkpoint" ? CtrPredictor.Load(checkpoint) : new CtrPredictor(kind switch
            {
                "dien" => new DienModel(options),
                "din" => new DinModel(options),
                "base" => new SumPoolingModel(options),
                _ => throw new ArgumentException($"--models {kind}: expected dien, din or base."),
            }, ownsModel: true);
            foreach (int gather in gathers)
            {
                var groups = calls.Chunk(gather).ToList();
                var (difference, spread) = Difference(predictor, groups[0]);
                double before = 0, now = 0;
                for (int pass = 0; pass <= passes; pass++)
                {
                    // Pass 0 warms both paths up; then old and new alternate, so both meet the same load.
                    double b = RowsPerSecond(predictor, groups, encodeOnce: false);
                    double n = RowsPerSecond(predictor, groups, encodeOnce: true);
                    if (pass > 0)
                    {
                        before += b / passes;
                        now += n / passes;
                    }
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {kind} | {gather} | {before:N0} | {now:N0} | {now / before:F2}x | {difference:E1} (scores spread over {spread:E1}) |"));
                figures[$"{kind}_gather_{gather}_rows_per_s_before"] = Math.Round(before);
                figures[$"{kind}_gather_{gather}_rows_per_s_now"] = Math.Round(now);
                figures[$"{kind}_gather_{gather}_ratio"] = Math.Round(now / before, 2);
            }
        }

        Console.WriteLine(JsonSerializer.Serialize(figures));
    }

    private static double RowsPerSecond(CtrPredictor predictor, List<CandidateRequest[]> groups, bool encodeOnce)
    {
        predictor.EncodeHistoryOnce = encodeOnce;
        long rows = 0;
        var clock = Stopwatch.StartNew();
        foreach (var group in groups)
        {
            rows += predictor.ScoreRequests(group).Length;
        }

        return rows / clock.Elapsed.TotalSeconds;
    }

    /// <summary>The largest difference between the two paths' probabilities on one call, and the spread of those probabilities.</summary>
    private static (double Difference, double Spread) Difference(CtrPredictor predictor, CandidateRequest[] group)
    {
        predictor.EncodeHistoryOnce = false;
        var before = predictor.ScoreRequests(group);
        predictor.EncodeHistoryOnce = true;
        var now = predictor.ScoreRequests(group);
        return (before.Zip(now, (a, b) => Math.Abs((double)a - b)).Max(), before.Max() - before.Min());
    }
}
