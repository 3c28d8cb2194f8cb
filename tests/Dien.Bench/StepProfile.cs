using System.Diagnostics;
using Dien.Attention;
using Dien.Auxiliary;
using Dien.Data.Batching;
using Dien.Embeddings;
using Dien.Evolution;
using Dien.Extractor;
using Dien.Head;
using Dien.Model;
using Dien.Runtime;
using Dien.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Bench;

/// <summary>
/// Where a training step on W goes (<c>workload --profile</c>): the whole step split into forward, backward
/// and optimizer, then each part of DIEN alone, forward and backward, on leaf copies of the inputs it gets
/// in the real model. Medians over the timed batches, in ms.
/// </summary>
internal static class StepProfile
{
    private const int WarmUp = 10;
    private const int Timed = 60;

    public static void Run(WorkloadOptions w)
    {
        var (data, sampler, options) = w.Prepare();
        int e = options.BehaviourSize, h = options.HiddenSize;
        using var model = new DienModel(options);
        var optimizer = new Dien.Kernels.Optim.Adam(model.parameters(), w.LearningRate);
        using var embedding = new BehaviourEmbedding(options.ToEmbeddingOptions());
        using var extractor = new InterestExtractor(e, h);
        using var attention = new MlpAttention(h, e, options.AttentionHiddenSizes);
        using var evolution = new InterestEvolution(h, h, options.Evolution);
        using var auxiliary = new NextBehaviourAuxiliaryLoss(h, e, options.AuxiliaryScorer, options.AuxiliaryHiddenSizes);
        int headInput = embedding.UserSize + ((options.HeadSumTerms ? 3 : 1) * e) + h;
        using var head = new MlpHead(headInput, options.HeadHiddenSizes, options.HeadActivation, options.HeadBatchNorm, options.HeadDropout, options.HeadOutput);

        var times = new Dictionary<string, List<double>>();
        void Add(string name, double ms)
        {
            if (!times.TryGetValue(name, out var list))
            {
                times[name] = list = new List<double>();
            }

            list.Add(ms);
        }

        var batches = new Batcher(new BatcherOptions { BatchSize = w.Batch, Shuffle = true, BucketByLength = w.Bucket, Seed = w.Seed, NegativeSampler = sampler })
            .Batches(data.Train).Where(b => b.Size >= 2).Take(WarmUp + Timed).ToList();
        for (int i = 0; i < batches.Count; i++)
        {
            bool record = i >= WarmUp;
            // As CtrTrainer runs a step whose heavy work is in the kernels: libtorch on one thread.
            using var narrowing = Dien.Kernels.Primitives.KernelWorkers.KernelsOnly(batches[i].Size);
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            using var batch = new BehaviourBatch(batches[i]);
            double build = clock.Elapsed.TotalMilliseconds;
            optimizer.zero_grad();
            clock.Restart();
            var output = model.call(batch);
            double forward = clock.Elapsed.TotalMilliseconds;
            clock.Restart();
            output.Loss!.backward();
            double backward = clock.Elapsed.TotalMilliseconds;
            clock.Restart();
            optimizer.step();
            double step = clock.Elapsed.TotalMilliseconds;

            // Each part alone, on leaf inputs shaped as in the model.
            int[] lengths = batch.Arrays.Lengths;
            // The model's own routes: the packed lookup, the extractor and the auxiliary loss on packed behaviours.
            var embedded = embedding.Embed(batch, includeNegatives: true);
            double embed = Time(() =>
            {
                var e = embedding.Embed(batch, includeNegatives: true);
                e.Packed!.Behaviours.sum().Plus(e.Packed.Negatives!.sum()).Plus(e.Target.sum()).backward();
            });
            var history = embedded.Packed!.Behaviours.detach().requires_grad_();
            var packed = embedded.Packed;
            var states = extractor.ForwardPacked(history, batch.Mask, lengths).detach().requires_grad_();
            var target = embedded.Target.detach().requires_grad_();
            var weights = attention.ForwardPacked(states, target, batch.Mask).detach().requires_grad_();
            var negatives = packed.Negatives!.detach().requires_grad_();
            var interest = evolution.EvolvePacked(states, packed.Positions, packed.RowOfPosition, weights, lengths).detach();
            var headIn = embedded.HeadInput(options.HeadSumTerms, interest).detach().requires_grad_();
            double ext = Time(() => extractor.ForwardPacked(history, batch.Mask, lengths).sum().backward());
            double att = Time(() => attention.ForwardPacked(states, target, batch.Mask).sum().backward());
            double evo = Time(() => evolution.EvolvePacked(states, packed.Positions, packed.RowOfPosition, weights, lengths).sum().backward());
            double aux = Time(() => auxiliary.ComputePacked(states, history, negatives, batch.Mask).backward());
            double hd = Time(() => head.call(headIn).sum().backward());
            if (record)
            {
                Add("batch tensors", build);
                Add("step: forward", forward);
                Add("step: backward", backward);
                Add("step: Adam", step);
                Add("step: total", build + forward + backward + step);
                Add("embedding fwd+bwd", embed);
                Add("extractor fwd+bwd", ext);
                Add("attention fwd+bwd", att);
                Add("evolution fwd+bwd", evo);
                Add("auxiliary fwd+bwd", aux);
                Add("head fwd+bwd", hd);
                Add("rows x width", batches[i].Size * batch.Width);
            }
        }

        Console.WriteLine($"Training step on W, {Timed} batches after {WarmUp} warm-up, {w.Threads} thread(s); median ms");
        Print(times);
        Console.WriteLine();
        CompareVariants(model, optimizer, batches);
    }

    /// <summary>
    /// Whole training steps (forward, backward, Adam) with each fused kernel switched on or off, taking turns
    /// on every batch in a rotating order, so that the machine's drifting load hits all variants alike.
    /// </summary>
    private static void CompareVariants(DienModel model, Dien.Kernels.Optim.Adam optimizer, List<BatchArrays> batches)
    {
        var auxiliary = model.modules().OfType<NextBehaviourAuxiliaryLoss>().Single();
        var attention = model.modules().OfType<MlpAttention>().Single();
        var variants = new (string Name, bool Auxiliary, bool Attention, int Chunks, bool Beside, bool Narrow)[]
        {
            ("all fused kernels", true, true, 4, true, true),
            ("libtorch on every thread in the step", true, true, 4, true, false),
            ("auxiliary kernel in turn, not beside the target", true, true, 4, false, true),
            ("attention: libtorch composition", true, false, 4, true, true),
            ("auxiliary loss: libtorch composition", false, true, 4, true, true),
            ("kernels: one chunk per worker", true, true, 1, true, true),
        };
        var times = new Dictionary<string, List<double>>();
        for (int i = 0; i < batches.Count; i++)
        {
            for (int k = 0; k < variants.Length; k++)
            {
                var (name, fusedAuxiliary, fusedAttention, chunks, beside, narrow) = variants[(i + k) % variants.Length];
                Dien.Kernels.Primitives.KernelWorkers.StartsInBackground = beside;
                Dien.Kernels.Primitives.KernelWorkers.NarrowsLibTorch = narrow;
                auxiliary.UseFusedKernels = fusedAuxiliary;
                attention.UseFusedKernels = fusedAttention;
                Dien.Kernels.Primitives.KernelWorkers.ChunksPerWorker = chunks;
                using var narrowing = Dien.Kernels.Primitives.KernelWorkers.KernelsOnly(batches[i].Size);
                using var scope = NewDisposeScope();
                var clock = Stopwatch.StartNew();
                using var batch = new BehaviourBatch(batches[i]);
                optimizer.zero_grad();
                model.call(batch).Loss!.backward();
                optimizer.step();
                if (i >= WarmUp)
                {
                    (times.TryGetValue(name, out var list) ? list : times[name] = new List<double>()).Add(clock.Elapsed.TotalMilliseconds);
                }
            }
        }

        auxiliary.UseFusedKernels = true;
        attention.UseFusedKernels = true;
        Dien.Kernels.Primitives.KernelWorkers.ChunksPerWorker = 4;
        Dien.Kernels.Primitives.KernelWorkers.StartsInBackground = true;
        Dien.Kernels.Primitives.KernelWorkers.NarrowsLibTorch = true;
        Console.WriteLine($"Whole step per variant, taking turns on each of {Timed} batches; ms");
        Print(times);
    }

    private static void Print(Dictionary<string, List<double>> times)
    {
        Console.WriteLine("| part | median | mean | min |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var (name, list) in times)
        {
            list.Sort();
            Console.WriteLine($"| {name} | {list[list.Count / 2]:F2} | {list.Average():F2} | {list[0]:F2} |");
        }
    }

    private static double Time(Action action)
    {
        using var scope = NewDisposeScope();
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalMilliseconds;
    }
}
