using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Running;
using Dien.Bench;
using Dien.Runtime;
using TorchSharp;

// Usage:
//   dotnet run -c Release --project tests/Dien.Bench                 Stopwatch table (1 and 2 threads)
//   dotnet run -c Release --project tests/Dien.Bench -- --repeat 50  more timed calls per cell
//   dotnet run -c Release --project tests/Dien.Bench -- --kernel     the raw kernels alone
//   dotnet run -c Release --project tests/Dien.Bench -- --aux-kernel the fused auxiliary-loss and attention kernels alone, and their matrix product
//   dotnet run -c Release --project tests/Dien.Bench -- --bdn [BenchmarkDotNet args]   e.g. --filter '*StepPart*'
//   dotnet run -c Release --project tests/Dien.Bench -- workload [--samples 20000 --items 1000 --categories 50
//       --min-history 5 --max-history 50 --embedding 18 --hidden 36 --batch 128 --lr 0.001 --evolution augru
//       --attention mlp --alpha 1 --epochs 3 --threads 2 --seed 2019 --bucket true --defer-auxiliary true --path <authors folder>]    end-to-end figures on workload W
//       (--path: W's model on a real set's samples; --bucket false: batches as the library's defaults draw them; --profile: where a step goes; --timeline: the training thread's time between the step's marks;
//       --defer-auxiliary false: wait for the auxiliary loss in the forward, not in the backward)
//   dotnet run -c Release --project tests/Dien.Bench -- quality [--path ../shared/data/amazon-beauty-dien,../shared/data/amazon-sports-dien --models base,din,dien
//       --seeds 1,2,3 --epochs 8 --patience 2 --validation-fraction 0.1 --output tables.md --set Option=value ... --grid Option=value1,value2 ...
//       --bucket false --negatives popularity --shuffle whole --label NAME --jsonl runs.jsonl --threads 2]
//       test figures of the three models on a folder in the authors' format (docs/results.md); --path synthetic
//       (or synthetic:N for N samples) runs them on the built-in synthetic workload instead; it also prints the training file's order signal
//   dotnet run -c Release --project tests/Dien.Bench -- order [--path ../shared/data/amazon-beauty-dien --held-out 0.2 --seeds 1,2,3]
//       how much the order of the training histories adds to a click model over their set (Dien.Diagnostics.OrderSignal);
//       quality and order also take --path movielens:<folder> (MovieLens ratings as prefix pairs)
//   dotnet run -c Release --project tests/Dien.Bench -- rank [--candidates 100 --history 25 --requests 200 --gather 1,10 --passes 3 --models dien,din,base --threads 2]
//       ranking: rows/s with each request's history encoded once against the row-per-candidate path, in one run (docs/performance.md)
//   dotnet run -c Release --project tests/Dien.Bench -- latency [--rounds 5 and any workload flag]   W's batch-1 latency without training first
//   dotnet run -c Release --project tests/Dien.Bench -- eventlog [--rows 10000000 --users <rows / 50> --keep events.parquet --pairs]
//       writes a generated event log as Parquet, reads it back with the event-log reader: rows/s and peak RSS (docs/event-logs.md)
//   dotnet run -c Release --project tests/Dien.Bench -- converters [--rows 5000000 --users <rows / 100> --items 4000000 --converter taobao|events|movielens --keep <folder>]
//       writes a generated Taobao (or MovieLens) log as its raw files and converts it once: time, allocations and peak RSS (docs/data.md)
//   dotnet run -c Release --project tests/Dien.Bench -- compare [--data ../shared/data/amazon-beauty-dien,../shared/data/amazon-sports-dien --threads 2 --output comparison.jsonl]
//       every figure of the performance comparison in one JSON line: W at batch 128 and 512 (and the ratio to this run's matmul limit),
//       a DIEN epoch per data set unbucketed and bucketed, ranking 100 candidates (docs/performance.md)
// Before the first TorchSharp call: libgomp reads its spin count when libtorch loads (docs/performance.md).
// GOMP_SPINCOUNT=300000 in the environment restores libgomp's default for a comparison.
var openMpSpin = OpenMpSpin.Shorten();
// The modes that read options from the command line: a bad option is one line on stderr and exit code 1.
Action<string[]>? commandMode = args.Length == 0 ? null : args[0] switch
{
    "workload" => a => WorkloadBenchmark.Run(a, openMpSpin),
    "quality" => QualityBenchmark.Run,
    "order" => OrderSignalRun.Run,
    "eventlog" => EventLogBenchmark.Run,
    "converters" => ConverterBenchmark.Run,
    "rank" => RankingBenchmark.Run,
    "latency" => LatencyBenchmark.Run,
    "compare" => ComparisonRun.Run,
    _ => null,
};
if (commandMode is not null)
{
    try
    {
        commandMode(args);
    }
    catch (Exception e) when (e is ArgumentException or FormatException or IOException)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        Environment.ExitCode = 1;
    }

    return;
}

if (args.Length > 0 && args[0] == "--bdn")
{
    BenchmarkSwitcher.FromAssembly(typeof(RecurrenceBenchmarks).Assembly).Run(args[1..]);
    return;
}

int repeat = 20;
for (int i = 0; i + 1 < args.Length; i++)
{
    if (args[i] == "--repeat")
    {
        repeat = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
    }
}

if (args.Contains("--aux-kernel"))
{
    KernelTiming.RunAuxiliary(repeat);
    return;
}

if (args.Contains("--kernel"))
{
    KernelTiming.Run(repeat);
    return;
}

Console.WriteLine($"Recurrent layers, B = {Workload.Batch}, T = {Workload.Steps} (lengths 5..50 uniform), E = {Workload.Width}, H = {Workload.Hidden}, float32");
Console.WriteLine($"{Environment.ProcessorCount} logical cores, {System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}, .NET {Environment.Version}; median of {repeat} calls after warm-up");
Console.WriteLine();
Console.WriteLine("| threads | mode | layer | libtorch ms | fused ms | speed-up |");
Console.WriteLine("|---|---|---|---|---|---|");
foreach (int threads in new[] { 1, 2 })
{
    torch.set_num_threads(threads);
    using var workload = new Workload();
    foreach (var (mode, call) in new (string, Action<Implementation>)[] { ("fwd+bwd", workload.ForwardBackward), ("fwd", workload.ForwardOnly) })
    {
        double Time(Implementation impl)
        {
            // Enough warm-up calls for tiered compilation to promote the managed code around the kernels.
            for (int i = 0; i < 40; i++)
            {
                call(impl);
            }

            Thread.Sleep(200);

            var samples = new double[repeat];
            for (int i = 0; i < repeat; i++)
            {
                var watch = Stopwatch.StartNew();
                call(impl);
                samples[i] = watch.Elapsed.TotalMilliseconds;
            }

            Array.Sort(samples);
            return samples[repeat / 2];
        }

        double builtIn = Time(Implementation.BuiltInGru), gruLoop = Time(Implementation.GruLoop), gruFused = Time(Implementation.GruFused);
        double augruLoop = Time(Implementation.AugruLoop), augruFused = Time(Implementation.AugruFused);
        Row(threads, mode, "GRU, all states (vs nn.GRU)", builtIn, gruFused);
        Row(threads, mode, "GRU, all states (vs loop)", gruLoop, gruFused);
        Row(threads, mode, "AUGRU paper, final state (vs loop)", augruLoop, augruFused);
    }
}

static void Row(int threads, string mode, string layer, double reference, double fused)
    => Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {threads} | {mode} | {layer} | {reference:F2} | {fused:F3} | {reference / fused:F1}x |"));
