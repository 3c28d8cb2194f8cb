using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Dien.Bench;

/// <summary>
/// The whole performance comparison in one command (issue 27's figures): workload W at batch 128 and 512, a DIEN
/// epoch on each real data set unbucketed (the defaults) and bucketed by length, and ranking 100 candidates. Each part
/// runs as a child process of this benchmark, so that its peak RSS is its own; the parent merges their figures with
/// the ratios the targets are stated in and writes one JSON line (and appends it to --output).
/// </summary>
internal static class ComparisonRun
{
    private const string Usage = """
        compare [--data ../shared/data/amazon-beauty-dien,../shared/data/amazon-sports-dien --threads 2 --w-rounds 2 --epoch-rounds 2 --output comparison.jsonl]
          W (batch 128 and 512), one DIEN epoch per --data folder (unbucketed and bucketed, seed 1) and ranking 100
          candidates, each in a child process; one JSON line with every figure and ratio. A folder that does not
          exist is left out and named in "skipped". --data none runs W and ranking only. Each round of W runs both
          batch sizes and each round of epochs times both kinds, their order alternating between rounds; the fastest
          of each makes the ratio (every round's training rate or time is kept).
        """;

    public static void Run(string[] args)
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["--data"] = string.Join(',', QualityBenchmark.QualitySettings.DefaultPaths), ["--threads"] = "2", ["--output"] = string.Empty, ["--epoch-rounds"] = "2", ["--w-rounds"] = "2",
        };
        for (int i = 1; i < args.Length; i += 2)
        {
            if (!settings.ContainsKey(args[i]) || i + 1 == args.Length)
            {
                throw new ArgumentException($"{args[i]}: unknown option or missing value.\n{Usage}");
            }

            settings[args[i]] = args[i + 1];
        }

        string threads = settings["--threads"];
        var figures = new JsonObject
        {
            ["started"] = DateTime.UtcNow.ToString("u", CultureInfo.InvariantCulture),
            ["cores"] = Environment.ProcessorCount,
            ["threads"] = int.Parse(threads, CultureInfo.InvariantCulture),
            ["load_average_before"] = LoadAverage(),
        };

        // Both checked before the first child runs, not minutes later.
        int wRounds = Rounds(settings, "--w-rounds"), epochRounds = Rounds(settings, "--epoch-rounds");

        // W at the two batch sizes: training and inference speed, latency, peak RSS, and the matmul limit of this run. On a
        // shared host one run moves by 10-20 %: the sizes take turns, each round starting with the other, and each size's
        // run with the fastest training stands for it, all its figures together (its ratio is to its own matmul).
        var wRuns = new Dictionary<int, List<JsonNode>> { [128] = new(), [512] = new() };
        for (int round = 0; round < wRounds; round++)
        {
            foreach (int batch in round % 2 == 0 ? new[] { 128, 512 } : new[] { 512, 128 })
            {
                wRuns[batch].Add(Child($"W at batch {batch} (round {round + 1} of {wRounds})", ["workload", "--batch", batch.ToString(CultureInfo.InvariantCulture), "--threads", threads]));
            }
        }

        foreach (var (batch, runs) in wRuns)
        {
            var w = runs.MaxBy(r => r["train_samples_per_s"]!.GetValue<double>())!;
            string prefix = $"w{batch}_";
            foreach (string key in new[] { "train_samples_per_s", "train_gflops_per_s", "matmul_1024_gflops_per_s", "infer_samples_per_s_batch_128", "latency_batch1_median_ms", "peak_rss_mib", "auc_epoch_3" })
            {
                figures[prefix + key] = w[key]?.DeepClone();
            }

            figures[prefix + "train_samples_per_s_each_round"] = new JsonArray(runs.Select(r => r["train_samples_per_s"]?.DeepClone()).ToArray());
            figures[prefix + "ratio_to_matmul_limit"] = Math.Round(w["train_gflops_per_s"]!.GetValue<double>() / w["matmul_1024_gflops_per_s"]!.GetValue<double>(), 3);
        }

        figures["batch_512_over_128_train_speed"] = Math.Round(figures["w512_train_samples_per_s"]!.GetValue<double>() / figures["w128_train_samples_per_s"]!.GetValue<double>(), 2);

        // One DIEN epoch on each real set, with the library's defaults (unbucketed) and bucketed by length.
        var skipped = new JsonArray();
        foreach (string folder in settings["--data"].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(f => f != "none"))
        {
            if (!Directory.Exists(folder))
            {
                skipped.Add($"{folder}: no such folder");
                continue;
            }

            string set = Path.GetFileName(Path.TrimEndingDirectorySeparator(folder));

            // On a shared host one epoch moves by 10-20 % between runs: both kinds take turns, each round starting with
            // the other, and each kind's fastest epoch stands for it.
            var seconds = new Dictionary<bool, List<double>> { [false] = new(), [true] = new() };
            for (int round = 0; round < epochRounds; round++)
            {
                foreach (bool bucket in round % 2 == 0 ? new[] { false, true } : new[] { true, false })
                {
                    string kind = bucket ? "bucketed" : "unbucketed";
                    string jsonl = Path.Combine(Path.GetTempPath(), $"dien-compare-{Guid.NewGuid():N}.jsonl");
                    try
                    {
                        Child($"one DIEN epoch on {set}, {kind} (round {round + 1} of {epochRounds})", ["quality", "--path", folder, "--models", "dien", "--seeds", "1", "--epochs", "1",
                            "--bucket", bucket ? "true" : "false", "--threads", threads, "--jsonl", jsonl]);
                        var run = JsonNode.Parse(File.ReadLines(jsonl).Last())!;
                        seconds[bucket].Add(run["SecondsPerEpoch"]!.GetValue<double>());
                        figures[$"{set}_{kind}_test_auc"] = Math.Round(run["TestAuc"]!.GetValue<double>(), 4);
                    }
                    finally
                    {
                        File.Delete(jsonl);
                    }
                }
            }

            foreach (bool bucket in new[] { false, true })
            {
                string kind = bucket ? "bucketed" : "unbucketed";
                figures[$"{set}_{kind}_s_per_epoch"] = Math.Round(seconds[bucket].Min(), 1);
                figures[$"{set}_{kind}_s_per_epoch_each_round"] = new JsonArray(seconds[bucket].Select(v => (JsonNode?)Math.Round(v, 1)).ToArray());
            }

            figures[$"{set}_unbucketed_over_bucketed"] = Math.Round(seconds[false].Min() / seconds[true].Min(), 2);
        }

        // Ranking 100 candidates per request: each history encoded once, against a row per candidate.
        var rank = Child("ranking 100 candidates", ["rank", "--models", "dien", "--gather", "1,10", "--threads", threads]);
        foreach (var (key, value) in rank.AsObject().Where(p => p.Key.StartsWith("dien_", StringComparison.Ordinal)))
        {
            figures["rank100_" + key] = value?.DeepClone();
        }

        figures["load_average_after"] = LoadAverage();
        figures["skipped"] = skipped;
        string line = figures.ToJsonString();
        Console.WriteLine(line);
        if (settings["--output"] is { Length: > 0 } output)
        {
            File.AppendAllText(output, line + Environment.NewLine);
            Console.Error.WriteLine($"appended to {output}");
        }
    }

    private static int Rounds(Dictionary<string, string> settings, string option)
    {
        int rounds = int.TryParse(settings[option], NumberStyles.Integer, CultureInfo.InvariantCulture, out int parsed) ? parsed : 0;
        return rounds >= 1 ? rounds : throw new ArgumentException($"{option} {settings[option]}: expected a whole number of at least 1.\n{Usage}");
    }

    /// <summary>Runs this benchmark with <paramref name="arguments"/> and returns the JSON object its last output line holds.</summary>
    private static JsonNode Child(string what, string[] arguments)
    {
        Console.Error.WriteLine($"{DateTime.Now:HH:mm:ss} {what}: {string.Join(' ', arguments)}");
        string host = Environment.ProcessPath!;
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            start.ArgumentList.Add(typeof(ComparisonRun).Assembly.Location); // started as 'dotnet Dien.Bench.dll'
        }

        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var child = Process.Start(start)!;
        var lines = new List<string>();
        while (child.StandardOutput.ReadLine() is { } text)
        {
            lines.Add(text);
        }

        child.WaitForExit();
        if (child.ExitCode != 0)
        {
            throw new IOException($"{what} failed (exit code {child.ExitCode}); its last output:\n{string.Join('\n', lines.TakeLast(10))}");
        }

        string json = lines.LastOrDefault(l => l.StartsWith('{')) ?? "{}";
        return JsonNode.Parse(json)!;
    }

    /// <summary>The 1-minute load average (/proc/loadavg), NaN where there is none.</summary>
    internal static double LoadAverage()
    {
        const string file = "/proc/loadavg";
        return File.Exists(file) ? double.Parse(File.ReadAllText(file).Split(' ')[0], CultureInfo.InvariantCulture) : double.NaN;
    }
}
