using System.Globalization;
using Dien.Model;
using TorchSharp;

namespace Dien.Bench;

/// <summary>
/// Batch-1 latency of W's DIEN alone, measured as the workload mode measures it (<see cref="WorkloadBenchmark.Latency"/>)
/// but without training first (the time of a call does not depend on the weights): for quick comparisons.
/// </summary>
internal static class LatencyBenchmark
{
    public static void Run(string[] args)
    {
        // --rounds is this mode's own flag; every other flag is a workload flag.
        int rounds = 5;
        var workloadArgs = new List<string>(args);
        int at = workloadArgs.IndexOf("--rounds");
        if (at >= 0)
        {
            rounds = at + 1 < workloadArgs.Count && int.TryParse(workloadArgs[at + 1], CultureInfo.InvariantCulture, out int r) && r > 0
                ? r : throw new ArgumentException("--rounds needs a positive whole number.");
            workloadArgs.RemoveRange(at, 2);
        }

        var w = WorkloadOptions.Parse(workloadArgs);
        var (data, _, options) = w.Prepare();
        using var model = new DienModel(options);
        var medians = new List<double>();
        for (int round = 0; round < rounds; round++)
        {
            var (median, p90) = WorkloadBenchmark.Latency(model, data.Test);
            medians.Add(median);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round + 1}: batch-1 latency median {median:F3} ms, p90 {p90:F3} ms ({WorkloadBenchmark.LatencyCalls} calls)"));
        }

        medians.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median of the {rounds} rounds' medians: {medians[rounds / 2]:F3} ms; {w.Threads} thread(s)"));
    }
}
