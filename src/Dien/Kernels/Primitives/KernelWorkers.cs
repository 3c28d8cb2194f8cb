using TorchSharp;

namespace Dien.Kernels.Primitives;

/// <summary>How the fused kernels spread their work over threads.</summary>
/// <remarks>
/// Work is cut into more chunks than there are workers, and workers take chunks as they free up
/// (<see cref="Parallel.For(int, int, ParallelOptions, Action{int})"/> balances them). With exactly one chunk
/// per worker, a worker that starts late (a thread-pool thread waking up, a core taken by another process)
/// held up the whole call; with several, the others take its share. Each chunk keeps its own gradient
/// accumulators, summed in chunk order, so a result never depends on which worker ran which chunk.
/// </remarks>
internal static class KernelWorkers
{
    /// <summary>Workers for a kernel: libtorch's intra-op thread count (at most the cores), so one setting governs both.</summary>
    public static int Count => Math.Max(1, Math.Min(torch.get_num_threads(), Environment.ProcessorCount));

    /// <summary>Chunks per worker when there are two or more workers (internal, for measurements).</summary>
    internal static int ChunksPerWorker { get; set; } = 4;

    /// <summary>How many chunks to cut a call's work into for <paramref name="workers"/> workers.</summary>
    public static int Chunks(int workers) => workers <= 1 ? 1 : workers * ChunksPerWorker;

    /// <summary>Runs chunks 0 .. <paramref name="chunks"/> - 1 on up to <paramref name="workers"/> threads, the caller's among them.</summary>
    public static void Run(Action<int> chunk, int chunks, int workers)
    {
        if (chunks == 1 || workers <= 1)
        {
            for (int c = 0; c < chunks; c++)
            {
                chunk(c);
            }
        }
        else
        {
            Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = Math.Min(workers, chunks) }, chunk);
        }
    }
}
