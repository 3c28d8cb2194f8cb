using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Dien.Data;
using Dien.Data.Batching;
using Dien.Kernels.Primitives;
using Dien.Metrics;
using Dien.Model;
using Dien.Runtime;
using Dien.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Bench;

/// <summary>
/// End-to-end figures on workload W (the performance issue): DIEN trained on the synthetic generator's
/// default workload, then scored. Every parameter of W is a flag; the defaults are W.
/// </summary>
internal static class WorkloadBenchmark
{
    private const int WarmUpBatches = 10;
    internal const int LatencyCalls = 200;

    public static void Run(string[] args, OpenMpSpinResult openMpSpin)
    {
        bool profile = args.Contains("--profile");
        bool timeline = args.Contains("--timeline");
        var w = WorkloadOptions.Parse(args.Where(a => a != "--profile" && a != "--timeline").ToArray());
        // As CtrTrainer does (TrainerOptions.KeepFreedMemoryWithinEpochs); --release-memory false leaves glibc's defaults.
        if (w.ReleaseMemory)
        {
            Dien.Runtime.ProcessMemory.KeepFreedBlocks();
        }

        if (profile)
        {
            StepProfile.Run(w);
            return;
        }

        var (data, sampler, options) = w.Prepare();
        Console.WriteLine($"W: {data.Train.Count:N0} train / {data.Test.Count:N0} test samples, {w.Items} items, {w.Categories} categories, history {w.MinHistory}..{w.MaxHistory}, " +
                          $"E = {options.BehaviourSize}, H = {w.Hidden}, batch {w.Batch}, {w.Evolution}, {w.Attention} attention, alpha {w.Alpha}, {w.Threads} thread(s)");
        Console.WriteLine($"machine: {Environment.ProcessorCount} logical cores, {CpuModel()}, .NET {Environment.Version}; OpenMP spin count: {Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") ?? "libgomp default"} ({openMpSpin})");

        var before = MatmulGflops();
        using var model = new DienModel(options);
        var optimizer = new Dien.Kernels.Optim.Adam(model.parameters(), w.LearningRate);
        bool kernelsOnly = model.TrainsOnFusedKernels;
        var figures = new Dictionary<string, object?>();
        double trainSeconds = 0, trainFlops = 0, validPositions = 0, positions = 0;
        long trainSamples = 0;
        var stepMs = new List<double>();
        int batchIndex = 0;
        if (timeline)
        {
            StepTimeline.Begin();
        }

        for (int epoch = 1; epoch <= w.Epochs; epoch++)
        {
            model.train();
            // As CtrTrainer does: the loss is read after the backward (CompleteDeferred).
            model.DefersAuxiliaryLoss = w.DeferAuxiliary;
            var batches = new Batcher(new BatcherOptions { BatchSize = w.Batch, Shuffle = true, BucketByLength = w.Bucket, Seed = w.Seed + epoch, NegativeSampler = w.Alpha > 0 ? sampler : null })
                .Batches(data.Train).Where(b => b.Size >= 2);
            // As CtrTrainer does: the next batch's arrays and tensors are built on the prefetch thread while a step runs.
            using var prefetcher = new BatchPrefetcher(batches, CPU, depth: 1);
            // A step is timed from the end of the one before, so that a wait for the prefetch thread counts.
            var clock = Stopwatch.StartNew();
            foreach (var batch in prefetcher.Batches())
            {
                var arrays = batch.Arrays;
                if (timeline && batchIndex >= WarmUpBatches)
                {
                    StepTimeline.StartStep();
                }

                // As CtrTrainer does for a model whose step is in the fused kernels: libtorch on one thread.
                using (batch)
                using (kernelsOnly ? KernelWorkers.KernelsOnly(arrays.Size) : default)
                using (NewDisposeScope())
                {
                    optimizer.zero_grad();
                    StepTimeline.Mark("zero_grad");
                    using var output = model.call(batch);
                    StepTimeline.Mark("forward returned");
                    output.Loss!.backward();
                    output.CompleteDeferred();
                    StepTimeline.Mark("backward");
                    optimizer.step();
                    StepTimeline.Mark("optimizer step");
                }

                StepTimeline.EndStep();

                // Timed after the warm-up batches (JIT tiers, allocator, thread pool).
                if (++batchIndex > WarmUpBatches)
                {
                    trainSeconds += clock.Elapsed.TotalSeconds;
                    stepMs.Add(clock.Elapsed.TotalMilliseconds);
                    trainSamples += arrays.Size;
                    trainFlops += FlopCount.TrainingStep(arrays, options);
                    validPositions += arrays.Lengths.Sum();
                    positions += (double)arrays.Size * arrays.Width;
                }

                clock.Restart();
            }

            // As CtrTrainer does around each epoch's evaluation (TrainerOptions.ReleaseMemoryBetweenEpochs).
            ReleaseMemory(w);
            if (epoch == 1 || epoch == 3 || epoch == w.Epochs)
            {
                figures[$"auc_epoch_{epoch}"] = Math.Round(TestAuc(model, data.Test), 4);
                ReleaseMemory(w);
            }

            if (epoch == 2 || epoch == 10)
            {
                figures[$"rss_mib_after_epoch_{epoch}"] = Math.Round(Memory.RssMiB(), 1);
                // The managed heap is part of RSS: tells native growth from managed growth.
                figures[$"managed_heap_mib_after_epoch_{epoch}"] = Math.Round(GC.GetGCMemoryInfo().HeapSizeBytes / 1048576.0, 1);
            }

            Console.WriteLine($"epoch {epoch}: {string.Join(", ", figures.Where(f => f.Key.EndsWith($"_{epoch}", StringComparison.Ordinal)).Select(f => $"{f.Key} {f.Value}"))}");
        }

        if (timeline)
        {
            var background = StepTimeline.BackgroundIntervals();
            PrintTimeline(StepTimeline.End(), stepMs.Count);
            PrintBackground(background, stepMs.Count);
        }

        // The spread tells steady cost (median) from stalls (p90, max): JIT, page faults, the machine's other load.
        stepMs.Sort();
        figures["train_step_ms_median"] = Math.Round(stepMs[stepMs.Count / 2], 2);
        figures["train_step_ms_p90"] = Math.Round(stepMs[stepMs.Count * 9 / 10], 2);
        figures["train_step_ms_max"] = Math.Round(stepMs[^1], 2);
        figures["train_samples_per_s"] = Math.Round(trainSamples / trainSeconds);
        figures["train_gflops_per_s"] = Math.Round(trainFlops / trainSeconds / 1e9, 2);
        figures["train_mflop_per_sample"] = Math.Round(trainFlops / trainSamples / 1e6, 2);
        figures["train_valid_position_share"] = Math.Round(validPositions / positions, 3);
        figures["infer_samples_per_s_batch_128"] = Math.Round(InferenceThroughput(model, data.Test));
        var (median, p90) = Latency(model, data.Test);
        figures["latency_batch1_median_ms"] = Math.Round(median, 3);
        figures["latency_batch1_p90_ms"] = Math.Round(p90, 3);
        // Measured before training and after it: the fastest round of both is the limit, the slowest says how much
        // the host moved it during the run.
        var after = MatmulGflops();
        figures["matmul_1024_gflops_per_s"] = Math.Round(Math.Max(before.Best, after.Best), 1);
        figures["matmul_1024_gflops_per_s_slowest_round"] = Math.Round(Math.Min(before.Slowest, after.Slowest), 1);
        figures["peak_rss_mib"] = Math.Round(Memory.PeakRssMiB(), 1);

        Console.WriteLine();
        Console.WriteLine("| figure | value |");
        Console.WriteLine("|---|---|");
        foreach (var (key, value) in figures)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {key} | {value} |"));
        }

        var summary = new Dictionary<string, object?>(figures)
        {
            ["samples"] = w.Samples, ["max_history"] = w.MaxHistory, ["batch"] = w.Batch, ["threads"] = w.Threads,
            ["evolution"] = w.Evolution.ToString(), ["epochs"] = w.Epochs, ["release_memory"] = w.ReleaseMemory,
            ["gomp_spincount"] = Environment.GetEnvironmentVariable("GOMP_SPINCOUNT"),
            ["kernel_product_register_bits"] = Dien.Kernels.Primitives.WideVectors<float>.Enabled ? 512 : System.Numerics.Vector<float>.Count * 32,
        };
        Console.WriteLine(JsonSerializer.Serialize(summary));
    }

    /// <summary>
    /// The training thread's time between marks of a step (<c>--timeline</c>), per timed step: the model's parts, its
    /// kernels' autograd nodes going in and out, and the step's own calls. A pair passed twice a step (the extractor's
    /// and the evolution's projection) shows "x2".
    /// </summary>
    private static void PrintTimeline(IReadOnlyList<StepTimeline.Interval> intervals, int steps)
    {
        PrintIntervals($"Timeline of the training thread, mean over {steps} timed steps; ms per step", "passes per step", intervals, steps);
        double total = intervals.Sum(i => i.Milliseconds);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| step start | step end | {total / steps:F3} | |"));
        Console.WriteLine();
    }

    /// <summary>The background jobs (the auxiliary kernel beside the target): how long their helpers worked, and how long they then had nothing of it left before the join.</summary>
    private static void PrintBackground(IReadOnlyList<StepTimeline.Interval> intervals, int steps)
    {
        if (intervals.Count > 0)
        {
            PrintIntervals("Background jobs on helper threads, mean over the same steps; ms per step (the helpers take other kernels' chunks after the last one)", "jobs per step", intervals, steps);
            Console.WriteLine();
        }
    }

    /// <summary>A title and one table row per interval, its time and count per step.</summary>
    private static void PrintIntervals(string title, string countColumn, IReadOnlyList<StepTimeline.Interval> intervals, int steps)
    {
        Console.WriteLine(title);
        Console.WriteLine($"| from | to | ms | {countColumn} |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var interval in intervals)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {interval.From} | {interval.To} | {interval.Milliseconds / steps:F3} | {interval.Count / (double)steps:F2} |"));
        }
    }

    private static void ReleaseMemory(WorkloadOptions w)
    {
        if (w.ReleaseMemory)
        {
            ProcessMemory.ReleaseBetweenEpochs();
        }
    }

    private static IEnumerable<BatchArrays> TestBatches(IReadOnlyList<Sample> test, int size)
        => new Batcher(new BatcherOptions { BatchSize = size }).Batches(test);

    private static double TestAuc(DienModel model, IReadOnlyList<Sample> test)
    {
        var scores = new List<float>();
        var labels = new List<float>();
        model.eval();
        using (inference_mode(true))
        {
            foreach (var arrays in TestBatches(test, 512))
            {
                using var scope = NewDisposeScope();
                using var batch = new BehaviourBatch(arrays);
                using var output = model.call(batch);
                scores.AddRange(output.Probability.data<float>().ToArray());
                labels.AddRange(arrays.Labels!);
            }
        }

        model.train();
        return ClickMetrics.Auc(scores.ToArray(), labels.ToArray());
    }

    private static double InferenceThroughput(DienModel model, IReadOnlyList<Sample> test)
    {
        var batches = TestBatches(test, 128).ToList();
        model.eval();
        using var inference = inference_mode(true);
        for (int pass = 0; pass < 2; pass++)
        {
            var clock = Stopwatch.StartNew();
            long samples = 0;
            foreach (var arrays in batches)
            {
                using var scope = NewDisposeScope();
                using var batch = new BehaviourBatch(arrays);
                using var output = model.call(batch);
                _ = output.Probability.data<float>()[0];
                samples += arrays.Size;
            }

            if (pass == 1)
            {
                return samples / clock.Elapsed.TotalSeconds;
            }
        }

        return 0;
    }

    internal static (double Median, double P90) Latency(DienModel model, IReadOnlyList<Sample> test)
    {
        var batcher = new Batcher(new BatcherOptions { BatchSize = 1 });
        var singles = batcher.Batches(test.Take(LatencyCalls + 20)).ToList();
        model.eval();
        using var inference = inference_mode(true);
        var times = new List<double>();
        for (int i = 0; i < singles.Count; i++)
        {
            var clock = Stopwatch.StartNew();
            using (NewDisposeScope())
            {
                using var batch = new BehaviourBatch(singles[i]);
                using var output = model.call(batch);
                _ = output.Probability.data<float>()[0];
            }

            if (i >= 20)
            {
                times.Add(clock.Elapsed.TotalMilliseconds);
            }
        }

        times.Sort();
        return (times[times.Count / 2], times[(int)(times.Count * 0.9)]);
    }

    /// <summary>
    /// The machine's matmul limit: the fastest of several rounds of 1024^3 products. One round lasts about 0.1 s, so a
    /// single round measures whatever else the host ran in that moment (101 against 168 GFLOP/s minutes apart in one
    /// comparison); a limit is the best the cores give, so the ratio to it is never flattered by a slow round.
    /// </summary>
    private static (double Best, double Slowest) MatmulGflops(int rounds = 5)
    {
        using var scope = NewDisposeScope();
        // Its own generator: the model's initial weights come from the global one.
        using var generator = new Generator(7);
        var a = randn(1024, 1024, generator: generator);
        var b = randn(1024, 1024, generator: generator);
        for (int i = 0; i < 3; i++)
        {
            a.matmul(b).Dispose();
        }

        const int calls = 10;
        double best = 0, slowest = double.MaxValue;
        for (int round = 0; round < rounds; round++)
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < calls; i++)
            {
                a.matmul(b).Dispose();
            }

            double gflops = calls * 2.0 * 1024 * 1024 * 1024 / clock.Elapsed.TotalSeconds / 1e9;
            best = Math.Max(best, gflops);
            slowest = Math.Min(slowest, gflops);
        }

        return (best, slowest);
    }

    private static string CpuModel()
    {
        const string file = "/proc/cpuinfo";
        return File.Exists(file)
            ? File.ReadLines(file).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU"
            : "unknown CPU";
    }
}
