using System.Globalization;
using Dien.Diagnostics;

namespace Dien.Bench;

/// <summary>
/// The <c>order</c> mode: how much the order of the training histories tells about the next click, beyond their
/// set (<see cref="OrderSignal"/>), on a folder in the authors' format or the synthetic workload. Reads only the
/// training samples.
/// </summary>
internal static class OrderSignalRun
{
    public static void Run(string[] args)
    {
        string path = "../shared/data/amazon-beauty-dien";
        double heldOut = 0.2;
        var seeds = new List<int> { 1 };
        for (int i = 1; i < args.Length; i++)
        {
            string value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]}: expected a value after it.");
            switch (args[i])
            {
                case "--path": path = value; break;
                case "--held-out": heldOut = double.TryParse(value, CultureInfo.InvariantCulture, out double h) ? h : throw new ArgumentException($"--held-out {value}: expected a fraction in (0, 1)."); break;
                case "--seeds": seeds = value.Split(',').Select(s => int.TryParse(s, CultureInfo.InvariantCulture, out int seed) ? seed : throw new ArgumentException($"--seeds {value}: expected whole numbers separated by commas.")).ToList(); break;
                default: throw new ArgumentException($"{args[i]}: unknown option of the order mode (--path, --held-out, --seeds).");
            }

            i++;
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
