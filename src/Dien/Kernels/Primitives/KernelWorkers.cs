using Dien.Runtime;
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
    /// <remarks>
    /// While a background job started on this thread holds helpers (<see cref="Start"/>), libtorch's count is lowered
    /// by their number, but this stays what it was: kernels cut their work by it, so their chunks and results do not
    /// change, and <see cref="Run"/> runs those chunks on the caller and, between their own chunks, the job's helpers.
    /// Inside <see cref="KernelsOnly"/> it is the count the scope found, though libtorch runs on one thread there.
    /// </remarks>
    public static int Count => t_workers > 0
        ? t_workers
        : Math.Max(1, Math.Min(torch.get_num_threads() + LentHelpers(busyOnly: false), Environment.ProcessorCount));

    /// <summary>The kernels' worker count fixed by <see cref="KernelsOnly"/> on this thread; 0 outside it.</summary>
    [ThreadStatic]
    private static int t_workers;

    /// <summary>
    /// This thread's background jobs not yet joined: libtorch's count is lowered by their helpers until the join, and
    /// <see cref="Run"/> asks no other helper while their chunks run, and offers its chunks to them instead.
    /// </summary>
    [ThreadStatic]
    private static List<Background>? t_started;

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
        // Cores lent to a background job stay with it while it has chunks running: no other helper is asked, and the
        // job's own helpers take this call's chunks between theirs. Once its chunks are done, its helpers are free
        // again though the caller has not joined it yet.
        int lent = LentHelpers(busyOnly: true);
        if (chunks > 1 && workers > 1 && workers - lent <= 1 && BusyBackground() is { } background)
        {
            RunBesideBackground(chunk, chunks, background);
            return;
        }

        workers -= lent;

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

    /// <summary>
    /// Runs a call's chunks on the caller while this thread's background job holds the other cores: its helpers take
    /// the call's chunks between their own. The caller's kernels lie on the step's path, while the background job
    /// only has to be done by its join (the auxiliary kernel on W was done about 4 ms before it), so its helpers serve
    /// the caller first. A helper inside one of the job's chunks takes the call's chunks only after it, so the caller
    /// starts alone and never waits for a helper to come; results do not change, since each chunk keeps its own
    /// accumulators whoever runs it.
    /// </summary>
    private static void RunBesideBackground(Action<int> chunk, int chunks, Background background)
    {
        var job = new Job(chunk, chunks);
        background.Offer(job);
        try
        {
            job.Work();
            job.WaitForTakenChunks();
        }
        finally
        {
            background.Withdraw(job);
        }
    }

    /// <summary>This thread's first background job whose chunks still run, or null.</summary>
    private static Background? BusyBackground()
    {
        if (t_started is { Count: > 0 } started)
        {
            foreach (var background in started)
            {
                if (background.Busy)
                {
                    return background;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// Starts chunks 0 .. <paramref name="chunks"/> - 1 on helper threads (half of <paramref name="workers"/>, at least
    /// one when there are two or more) and returns at once, so that the caller can go on with other work on the
    /// remaining cores; <see cref="Background.Join"/> then runs what is left on the caller and waits for the rest.
    /// </summary>
    /// <remarks>
    /// Until the join, the caller's libtorch operations and the kernels it runs (<see cref="Run"/>) use the remaining
    /// threads: libtorch's thread count is the calling thread's (OpenMP's), so it is lowered here and put back by the
    /// join, which must run on the same thread; <see cref="Count"/>, by which kernels cut their work, does not change. Otherwise libtorch's OpenMP threads and the helpers fight
    /// over the same cores, and a parallel operation waits for whichever thread the system has set aside. With one
    /// worker nothing starts early: <see cref="Background.Join"/> runs every chunk.
    /// </remarks>
    public static Background Start(Action<int> chunk, int chunks, int workers)
    {
        var job = new Job(chunk, chunks);
        if (!StartsInBackground)
        {
            Run(chunk, chunks, workers);
            return new Background(job, null, 0, done: true);
        }

        int helpers = workers > 1 && chunks > 1 ? Math.Min(Math.Max(1, workers / 2), chunks) : 0;
        LibTorchThreads.Saved? narrowed = null;
        if (helpers > 0)
        {
            Interlocked.Increment(ref s_backgroundStarts);
            narrowed = LibTorchThreads.Set(Math.Max(1, torch.get_num_threads() - helpers));
            for (int helper = 0; helper < helpers; helper++)
            {
                ThreadPool.UnsafeQueueUserWorkItem(static j => j.WorkServingOffers(), job, preferLocal: false);
            }
        }

        var started = new Background(job, narrowed, helpers, startedAt: StepTimeline.Recording ? System.Diagnostics.Stopwatch.GetTimestamp() : 0);
        if (helpers > 0)
        {
            (t_started ??= []).Add(started);
        }

        return started;
    }

    /// <summary>Helpers lent to this thread's background jobs until their join; with <paramref name="busyOnly"/>, only those whose chunks still run.</summary>
    private static int LentHelpers(bool busyOnly)
    {
        int lent = 0;
        if (t_started is { Count: > 0 } started)
        {
            foreach (var background in started)
            {
                lent += busyOnly && !background.Busy ? 0 : background.Helpers;
            }
        }

        return lent;
    }

    /// <summary>
    /// Until the returned scope is disposed, on this thread, libtorch runs on one thread while the kernels keep
    /// <see cref="Count"/> workers: for steps whose heavy work is in the kernels, where libtorch's own operations are
    /// small. On 2 cores libtorch's second OpenMP thread only spun between those operations, on the core a kernel's
    /// helper needed. Only this thread's count changes (<see cref="LibTorchThreads"/>): other threads, and threads that
    /// first use libtorch meanwhile, keep the process's.
    /// </summary>
    /// <param name="rows">The step's batch rows: above <see cref="KernelsOnlyRows"/> the scope changes nothing.</param>
    /// <returns>A scope that puts libtorch's thread count back; dispose it on this thread.</returns>
    public static LibTorchNarrowing KernelsOnly(long rows)
    {
        int workers = Count;
        int threads = torch.get_num_threads();
        if (!NarrowsLibTorch || rows > KernelsOnlyRows || threads <= 1 || t_workers > 0)
        {
            return default;
        }

        t_workers = workers;
        var saved = LibTorchThreads.Set(1);
        if (!saved.ThreadLocal)
        {
            Volatile.Write(ref s_narrowedFrom, threads);
        }

        return new LibTorchNarrowing(saved);
    }

    /// <summary>
    /// The most batch rows at which <see cref="KernelsOnly"/> narrows libtorch. libtorch's operations in a step (the
    /// head's layers, BatchNorm, the softmax over [B, T]) grow with the rows: on workload W, one thread for them made a
    /// step 2-5 % faster at 128 rows, changed nothing measurable at 256 and made it 1-8 % slower at 512.
    /// </summary>
    public const int KernelsOnlyRows = 256;

    /// <summary>
    /// Until the returned scope is disposed, on this thread, a scoring call of at most <see cref="SmallInferenceRows"/>
    /// rows runs libtorch on one thread, as <see cref="KernelsOnly"/> does for a training step: at such sizes libtorch's
    /// second OpenMP thread only adds a fork and a join to each of the call's small operations (an index_add over one
    /// history's 27 positions: 14 µs on one thread, 30 on two).
    /// </summary>
    /// <param name="rows">The call's scored rows: above <paramref name="limit"/> the scope changes nothing.</param>
    /// <param name="limit">The most rows narrowed: <see cref="SmallInferenceRows"/> for a batch, <see cref="SmallRankingRows"/> for a ranking call.</param>
    /// <returns>A scope that puts libtorch's thread count back; dispose it on this thread.</returns>
    /// <remarks>
    /// Narrowing changes this thread's count only (<see cref="LibTorchThreads"/>). Where that is not possible it falls
    /// back to <c>torch.set_num_threads</c>, which sets the process-wide count too, and libtorch copies that count into
    /// a thread's own the first time the thread uses it: a thread that started scoring while another one was narrowed
    /// would keep one thread for good. So, in that fallback, this first puts such a thread back to the count the last
    /// narrowing found.
    /// </remarks>
    public static LibTorchNarrowing SmallInference(long rows, int limit = SmallInferenceRows)
    {
        RestoreCountNarrowedElsewhere();
        return rows <= limit ? KernelsOnly(rows) : default;
    }

    /// <summary>
    /// Puts this thread's libtorch count back to the one the last narrowing found, when it is lower and this thread is
    /// in no narrowing or background job of its own (see <see cref="SmallInference"/>).
    /// </summary>
    private static void RestoreCountNarrowedElsewhere()
    {
        int wide = Volatile.Read(ref s_narrowedFrom);
        if (wide > 1 && !LibTorchThreads.ThreadLocal && t_workers == 0 && t_started is not { Count: > 0 } && torch.get_num_threads() < wide)
        {
            torch.set_num_threads(wide);
        }
    }

    /// <summary>libtorch's thread count the last <see cref="KernelsOnly"/> narrowed from through the process-wide count; 0 before any.</summary>
    private static int s_narrowedFrom;

    /// <summary>
    /// The most rows at which <see cref="SmallInference"/> narrows libtorch. Workload W's DIEN in inference, median call
    /// on one thread against two: 1 row 9 % faster, 8 and 32 rows 13-15 %, 64 level, 128 12 % slower.
    /// </summary>
    public const int SmallInferenceRows = 64;

    /// <summary>
    /// The most candidate rows at which a ranking call (each request's history encoded once) narrows libtorch: its
    /// candidate rows run the attention and evolution kernels, where a batch's rows also run the extractor and the
    /// lookups. Ranking rows/s of W's DIEN with the call narrowed against not, two rounds: 100 candidates of one request
    /// 125,560 / 92,635 against 90,232 / 73,252; 300 candidates 111,817 / 128,639 against 109,691 / 132,063 (level);
    /// 10 requests of 100, 149,431 / 116,505 against 149,515 / 127,496 (level).
    /// </summary>
    public const int SmallRankingRows = 256;

    /// <summary>Whether <see cref="KernelsOnly"/> narrows libtorch; off, it does nothing (internal, for measurements).</summary>
    internal static bool NarrowsLibTorch { get; set; } = true;

    /// <summary>The scope of <see cref="KernelsOnly"/>: disposing it puts libtorch's thread count back.</summary>
    internal readonly struct LibTorchNarrowing : IDisposable
    {
        private readonly LibTorchThreads.Saved? _saved;

        internal LibTorchNarrowing(LibTorchThreads.Saved saved) => _saved = saved;

        /// <inheritdoc />
        public void Dispose()
        {
            if (_saved is { } saved)
            {
                LibTorchThreads.Restore(saved);
                t_workers = 0;
            }
        }
    }

    /// <summary>Whether <see cref="Start"/> starts jobs on helpers; off, it runs them at once as <see cref="Run"/> does (internal, for measurements).</summary>
    internal static bool StartsInBackground { get; set; } = true;

    /// <summary>How many jobs <see cref="Start"/> has started on helpers in this process (for tests and measurements).</summary>
    internal static long BackgroundStarts => Interlocked.Read(ref s_backgroundStarts);

    private static long s_backgroundStarts;

    /// <summary>A job started by <see cref="Start"/>; <see cref="Join"/> must be called once, on the starting thread, before its memory is freed.</summary>
    internal sealed class Background
    {
        private readonly Job _job;
        private readonly LibTorchThreads.Saved? _narrowed;
        private readonly int _helpers;
        private readonly long _startedAt;
        private bool _joined;

        /// <param name="job">The chunks.</param>
        /// <param name="narrowed">libtorch's thread count to put back at the join, or null when it was not changed.</param>
        /// <param name="helpers">The helpers asked, whose threads the join takes back.</param>
        /// <param name="done">The chunks have already run (nothing to join).</param>
        /// <param name="startedAt">When the helpers were asked, for <see cref="StepTimeline"/>; 0 when nothing records.</param>
        internal Background(Job job, LibTorchThreads.Saved? narrowed, int helpers, bool done = false, long startedAt = 0)
        {
            _job = job;
            _narrowed = narrowed;
            _helpers = helpers;
            _joined = done;
            _startedAt = startedAt;
        }

        /// <summary>The helpers asked.</summary>
        internal int Helpers => _helpers;

        /// <summary>Whether a chunk is still left or running.</summary>
        internal bool Busy => !_job.Done;

        /// <summary>Offers another call's chunks to this job's helpers, who take them between their own (<see cref="Run"/>).</summary>
        internal void Offer(Job call) => _job.Offer(call);

        /// <summary>Withdraws an offer once its call is done: a helper that still reads it finds no chunk left.</summary>
        internal void Withdraw(Job call) => _job.Withdraw(call);

        /// <summary>Puts libtorch's thread count back, runs the chunks no helper has taken, then waits for the rest.</summary>
        /// <exception cref="AggregateException">A chunk threw.</exception>
        public void Join()
        {
            if (_joined)
            {
                return;
            }

            _joined = true;
            long joinedAt = _startedAt != 0 ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
            if (_narrowed is { } narrowed)
            {
                LibTorchThreads.Restore(narrowed);
                t_started?.Remove(this);
            }

            _job.Work();
            _job.WaitForTakenChunks();
            if (_startedAt != 0)
            {
                StepTimeline.Background(_startedAt, _job.DoneAt, joinedAt);
            }
        }
    }

    /// <summary>One call's chunks: taken one at a time by whichever thread asks next.</summary>
    internal sealed class Job(Action<int> chunk, int chunks)
    {
        private int _next = -1;
        private int _done;
        private long _doneAt;
        private Job? _offered;
        private System.Collections.Concurrent.ConcurrentQueue<Exception>? _errors;

        /// <summary>When the latest chunk ended (<see cref="System.Diagnostics.Stopwatch.GetTimestamp"/>), taken only while <see cref="StepTimeline"/> records; else 0.</summary>
        public long DoneAt => Volatile.Read(ref _doneAt);

        /// <summary>Whether every chunk has run.</summary>
        public bool Done => Volatile.Read(ref _done) >= chunks;

        /// <summary>Runs chunks until none is left; a helper that starts late finds none and returns.</summary>
        public void Work()
        {
            int c;
            while ((c = Interlocked.Increment(ref _next)) < chunks)
            {
                RunChunk(c);
            }
        }

        /// <summary>
        /// <see cref="Work"/> for a background job's helper: before each of its own chunks it runs what is left of the
        /// call offered to it (<see cref="Offer"/>), if any.
        /// </summary>
        public void WorkServingOffers()
        {
            while (true)
            {
                Volatile.Read(ref _offered)?.Work();
                int c = Interlocked.Increment(ref _next);
                if (c >= chunks)
                {
                    return;
                }

                RunChunk(c);
            }
        }

        /// <summary>Offers <paramref name="call"/>'s chunks to the helpers of this job.</summary>
        public void Offer(Job call) => Volatile.Write(ref _offered, call);

        /// <summary>Withdraws <paramref name="call"/> if it is still the one offered.</summary>
        public void Withdraw(Job call) => Interlocked.CompareExchange(ref _offered, null, call);

        private void RunChunk(int c)
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
                // Stamped before the count, so that a caller who sees every chunk done also sees the latest end.
                if (StepTimeline.Recording)
                {
                    long now = System.Diagnostics.Stopwatch.GetTimestamp();
                    long seen;
                    while ((seen = Volatile.Read(ref _doneAt)) < now && Interlocked.CompareExchange(ref _doneAt, now, seen) != seen)
                    {
                    }
                }

                Interlocked.Increment(ref _done);
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
