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
    /// <remarks>
    /// The caller takes chunks itself and asks thread-pool threads to help; it then waits only for chunks a helper
    /// has already taken, never for a helper to start. With <see cref="Parallel.For(int, int, ParallelOptions, Action{int})"/>
    /// the caller waited for its queued helper to run, and right after a libtorch operation, whose OpenMP threads
    /// keep spinning on the cores for a while, that wait could cost more than the helper saved: two workers then took
    /// longer than one (123 against 97 µs a call with a libtorch operation between calls, measured on 2 cores; 95 µs
    /// now). A chunk's exception reaches the caller as an <see cref="AggregateException"/>, as Parallel.For's did.
    /// </remarks>
    public static void Run(Action<int> chunk, int chunks, int workers)
    {
        if (chunks == 1 || workers <= 1)
        {
            for (int c = 0; c < chunks; c++)
            {
                chunk(c);
            }

            return;
        }

        var job = new Job(chunk, chunks);
        for (int helper = 1; helper < Math.Min(workers, chunks); helper++)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static j => j.Work(), job, preferLocal: false);
        }

        job.Work();
        job.WaitForTakenChunks();
    }

    /// <summary>One call's chunks: taken one at a time by whichever thread asks next.</summary>
    private sealed class Job(Action<int> chunk, int chunks)
    {
        private int _next = -1;
        private int _done;
        private System.Collections.Concurrent.ConcurrentQueue<Exception>? _errors;

        /// <summary>Runs chunks until none is left; a helper that starts late finds none and returns.</summary>
        public void Work()
        {
            int c;
            while ((c = Interlocked.Increment(ref _next)) < chunks)
            {
                try
                {
                    chunk(c);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref _errors, new(), null);
                    _errors.Enqueue(e);
                }
                finally
                {
                    Interlocked.Increment(ref _done);
                }
            }
        }

        /// <summary>Waits until every chunk is done: once the caller finds none left, only chunks a helper is running remain.</summary>
        public void WaitForTakenChunks()
        {
            var spin = default(SpinWait);
            while (Volatile.Read(ref _done) < chunks)
            {
                // Never Sleep(1): a chunk takes microseconds.
                spin.SpinOnce(sleep1Threshold: -1);
            }

            if (_errors is { } errors)
            {
                throw new AggregateException(errors);
            }
        }
    }
}
