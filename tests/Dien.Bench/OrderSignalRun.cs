using Dien.Diagnostics;

namespace Dien.Bench;

/// <summary>
/// The <c>order</c> mode: how much the order of the training histories tells about the next click, beyond their
/// set (<see cref="OrderSignal"/>), on any data the quality mode reads (<see cref="QualityData.Load"/>: a folder in
/// the authors' format, <c>movielens:</c>folder or the synthetic workload). Reads only the training samples.
/// </summary>
internal static class OrderSignalRun
{
    public static void Run(string[] args)
    {
        string path = "../shared/data/amazon-beauty-dien";
        double heldOut = 0.2;
        IReadOnlyList<int> seeds = [1];
        for (int i = 1; i < args.Length; i++)
        {
            string flag = args[i];
            string value = i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{flag} needs a value.");
            switch (flag)
            {
                case "--path": path = value; break;
                case "--held-out": heldOut = QualityBenchmark.QualitySettings.Read<double>(flag, value); break;
                case "--seeds": seeds = QualityBenchmark.QualitySettings.List(value, v => QualityBenchmark.QualitySettings.Read<int>(flag, v)); break;
                default: throw new ArgumentException($"{flag}: unknown option of the order mode (--path, --held-out, --seeds).");
            }
        }

        if (!(heldOut > 0 && heldOut < 1))
        {
            throw new ArgumentException(FormattableString.Invariant($"--held-out {heldOut}: expected a fraction in (0, 1), the share of users the statistics do not see."));
        }

        var data = QualityData.Load(path);
        Console.WriteLine($"order signal: {data.Description}, {data.Train.Count:N0} training samples (the test file is not read), {heldOut:P0} of the users held out from the statistics");
        Console.WriteLine("| seed | popularity AUC | set AUC | set + order AUC | gain | last samples: set AUC | set + order AUC | gain |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (int seed in seeds)
        {
            var r = OrderSignal.Measure(data.Train, heldOut, seed);
            Console.WriteLine(FormattableString.Invariant(
                $"| {seed} | {r.PopularityAuc:F4} | {r.SetAuc:F4} | {r.OrderedAuc:F4} | {r.Gain:+0.0000;-0.0000} | {r.LastSetAuc:F4} | {r.LastOrderedAuc:F4} | {r.LastGain:+0.0000;-0.0000} |"));
        }
    }
}
