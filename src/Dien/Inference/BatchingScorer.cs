using System.Diagnostics;
using System.Diagnostics.Metrics;
using Dien.Data.Batching;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dien.Inference;

/// <summary>
/// Gathers concurrent score requests into one model call: callers on many threads await
/// <see cref="ScoreCandidatesAsync"/>, and one worker thread runs the model on all the rows queued within a short
/// wait (<see cref="BatchingScorerOptions.MaxWait"/>, up to <see cref="BatchingScorerOptions.MaxBatchRows"/>), then
/// hands each caller exactly its own rows' scores.
/// </summary>
/// <remarks>
/// <para>
/// One worker makes every model call, so the model is never run from two threads at once (TorchSharp modules make no
/// thread-safety guarantee) and dispose scopes and inference mode stay on that thread. Callers never block a thread
/// while they wait.
/// </para>
/// <para>
/// Each request names the <see cref="CtrPredictor"/> to score it, and one model call only ever gathers requests for
/// the same predictor: a service that swaps in a new model between requests never gets a request scored half by one
/// version and half by another. The predictor must stay undisposed until its requests complete.
/// </para>
/// <para>
/// The queue is bounded (<see cref="BatchingScorerOptions.MaxQueuedRows"/>): beyond it requests are refused at once
/// with <see cref="ScorerOverloadedException"/>. <see cref="Dispose"/> refuses new requests, finishes the queued ones
/// and then stops the worker.
/// </para>
/// <para>
/// Metrics (meter <see cref="MeterName"/>): <c>dien.scorer.model_call.duration</c> and
/// <c>dien.scorer.queue.duration</c> (seconds), <c>dien.scorer.batch.rows</c> and <c>dien.scorer.batch.requests</c>
/// per model call, <c>dien.scorer.rejected</c> (requests refused as overload).
/// </para>
/// </remarks>
public sealed class BatchingScorer : IDisposable
{
    /// <summary>The name of the meter that carries the scorer's metrics.</summary>
    public const string MeterName = "Dien.Inference";

    private readonly object _gate = new();
    private readonly Queue<Pending> _queue = new();
    private readonly Thread _worker;
    private readonly long _maxWaitTicks;
    private readonly int _maxBatchRows;
    private readonly int _maxQueuedRows;
    private readonly ILogger _logger;
    private readonly Meter? _ownedMeter;
    private readonly Histogram<double> _modelCallDuration;
    private readonly Histogram<double> _queueDuration;
    private readonly Histogram<int> _batchRows;
    private readonly Histogram<int> _batchRequests;
    private readonly Counter<long> _rejected;
    private int _queuedRows;
    private bool _stopping;

    /// <summary>Starts the worker thread.</summary>
    /// <param name="options">How to batch; defaults when null.</param>
    /// <param name="meterFactory">Creates the meter (as a host's <c>IMeterFactory</c> does); a meter of the scorer's own when null.</param>
    /// <param name="logger">Where failed model calls are logged; nowhere when null.</param>
    /// <exception cref="ScorerOptionsException">The options are not usable (every problem is named).</exception>
    public BatchingScorer(BatchingScorerOptions? options = null, IMeterFactory? meterFactory = null, ILogger? logger = null)
    {
        options ??= new BatchingScorerOptions();
        options.EnsureValid();

        _maxWaitTicks = (long)(options.MaxWait.TotalSeconds * Stopwatch.Frequency);
        _maxBatchRows = options.MaxBatchRows;
        _maxQueuedRows = options.MaxQueuedRows;
        _logger = logger ?? NullLogger.Instance;
        Meter meter;
        if (meterFactory is null)
        {
            meter = _ownedMeter = new Meter(MeterName);
        }
        else
        {
            meter = meterFactory.Create(MeterName);
        }

        _modelCallDuration = meter.CreateHistogram<double>("dien.scorer.model_call.duration", "s", "Time of one model call on a gathered batch.");
        _queueDuration = meter.CreateHistogram<double>("dien.scorer.queue.duration", "s", "Time a request waited from its arrival to the start of its model call.");
        _batchRows = meter.CreateHistogram<int>("dien.scorer.batch.rows", "{row}", "Rows (candidates) in one model call.");
        _batchRequests = meter.CreateHistogram<int>("dien.scorer.batch.requests", "{request}", "Requests gathered into one model call.");
        _rejected = meter.CreateCounter<long>("dien.scorer.rejected", "{request}", "Requests refused because the queue was full.");
        _worker = new Thread(Work) { IsBackground = true, Name = "Dien batching scorer" };
        _worker.Start();
    }

    /// <summary>Rows waiting for a model call now.</summary>
    public int QueuedRows
    {
        get
        {
            lock (_gate)
            {
                return _queuedRows;
            }
        }
    }

    /// <summary>
    /// Scores candidate items for one user with one history, as <see cref="CtrPredictor.ScoreCandidates"/> does, in a
    /// model call shared with other requests for the same predictor.
    /// </summary>
    /// <remarks>
    /// The caller gets exactly its own rows' scores. They equal an unbatched call's to rounding, not always bit for bit:
    /// libtorch's CPU kernels order a row's sums by the shape of the whole call (matrix-product tiles, vectorised and
    /// scalar loop tails), so a row's last bit can depend on how many rows share its call.
    /// </remarks>
    /// <param name="predictor">The model to score with; it must stay undisposed until the returned task completes.</param>
    /// <param name="userId">The user.</param>
    /// <param name="historyItems">The user's behaviours, oldest first.</param>
    /// <param name="historyCategories">Their categories.</param>
    /// <param name="candidateItems">Items to score.</param>
    /// <param name="candidateCategories">Their categories.</param>
    /// <param name="extraFields">The user's extra field ids (one per field), if the model has extra fields.</param>
    /// <param name="cancellationToken">Cancels the request while it is still queued.</param>
    /// <returns>One click probability per candidate, in the candidates' order.</returns>
    /// <exception cref="ArgumentException">Lengths differ (thrown at once), or an id is out of the model's range (through the task).</exception>
    /// <exception cref="ScorerOverloadedException">The queue is full: shed the request.</exception>
    /// <exception cref="ObjectDisposedException">The scorer is shutting down.</exception>
    public Task<float[]> ScoreCandidatesAsync(
        CtrPredictor predictor,
        long userId,
        IReadOnlyList<long> historyItems,
        IReadOnlyList<long> historyCategories,
        IReadOnlyList<long> candidateItems,
        IReadOnlyList<long> candidateCategories,
        IReadOnlyList<long>? extraFields = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(predictor);
        CtrPredictor.CheckRequest(historyItems, historyCategories, candidateItems, candidateCategories);

        if (candidateItems.Count == 0)
        {
            return Task.FromResult(Array.Empty<float>());
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<float[]>(cancellationToken);
        }

        var pending = new Pending(predictor, predictor.Request(userId, historyItems, historyCategories, candidateItems, candidateCategories, extraFields));
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopping, this);
            if (_queuedRows + pending.Rows > _maxQueuedRows)
            {
                _rejected.Add(1);
                throw new ScorerOverloadedException(
                    $"The scoring queue is full: {_queuedRows} rows wait, the limit is {_maxQueuedRows} and this request has {pending.Rows}.");
            }

            pending.Enqueued = Stopwatch.GetTimestamp();
            _queue.Enqueue(pending);
            _queuedRows += pending.Rows;
            Monitor.Pulse(_gate);
        }

        if (cancellationToken.CanBeCanceled)
        {
            pending.Registration = cancellationToken.Register(static state =>
            {
                var (p, token) = ((Pending, CancellationToken))state!;
                p.Completion.TrySetCanceled(token);
            }, (pending, cancellationToken));
            if (pending.Completion.Task.IsCompleted)
            {
                // Completed before the registration was stored: Complete or Fail could not release it.
                pending.Registration.Dispose();
            }
        }

        return pending.Completion.Task;
    }

    /// <summary>Refuses new requests, finishes the queued ones, then stops the worker.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping)
            {
                return;
            }

            _stopping = true;
            Monitor.PulseAll(_gate);
        }

        _worker.Join();
        _ownedMeter?.Dispose();
    }

    private void Work()
    {
        var batch = new List<Pending>();
        while (true)
        {
            batch.Clear();
            lock (_gate)
            {
                while (_queue.Count == 0)
                {
                    if (_stopping)
                    {
                        return;
                    }

                    Monitor.Wait(_gate);
                }

                // Wait for company until the oldest request's deadline, unless a full batch is already there.
                long deadline = _queue.Peek().Enqueued + _maxWaitTicks;
                while (!_stopping && _maxBatchRows > 1 && _queuedRows < _maxBatchRows)
                {
                    long remaining = deadline - Stopwatch.GetTimestamp();
                    if (remaining <= 0)
                    {
                        break;
                    }

                    // Monitor.Wait counts whole milliseconds; round up so it sleeps rather than spins.
                    Monitor.Wait(_gate, (int)Math.Ceiling(remaining * 1000.0 / Stopwatch.Frequency));
                }

                Take(batch);
            }

            Run(batch);
        }
    }

    /// <summary>Dequeues the leading requests for one predictor, up to the row limit (always at least one request).</summary>
    private void Take(List<Pending> batch)
    {
        int rows = 0;
        var predictor = _queue.Peek().Predictor;
        while (_queue.Count > 0)
        {
            var next = _queue.Peek();
            if (!ReferenceEquals(next.Predictor, predictor) || (batch.Count > 0 && rows + next.Rows > _maxBatchRows))
            {
                break;
            }

            _queue.Dequeue();
            _queuedRows -= next.Rows;
            if (next.Completion.Task.IsCompleted)
            {
                // Cancelled while queued.
                continue;
            }

            rows += next.Rows;
            batch.Add(next);
        }
    }

    private void Run(List<Pending> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }

        long start = Stopwatch.GetTimestamp();
        int rows = 0;
        foreach (var p in batch)
        {
            rows += p.Rows;
            _queueDuration.Record(Stopwatch.GetElapsedTime(p.Enqueued, start).TotalSeconds);
        }

        _batchRows.Record(rows);
        _batchRequests.Record(batch.Count);
        var predictor = batch[0].Predictor;
        bool sameFields = batch.TrueForAll(p => p.Request.ExtraFields.Length == batch[0].Request.ExtraFields.Length);
        try
        {
            if (batch.Count == 1 || !sameFields)
            {
                foreach (var p in batch)
                {
                    ScoreAlone(p);
                }

                return;
            }

            float[] scores;
            try
            {
                scores = predictor.ScoreRequests(batch.ConvertAll(p => p.Request));
            }
            catch (ArgumentException e)
            {
                // One request's bad id must not fail the others: score each alone so the error reaches its own caller.
                _logger.LogDebug(e, "A gathered batch of {Requests} requests was refused; scoring them one by one.", batch.Count);
                foreach (var p in batch)
                {
                    ScoreAlone(p);
                }

                return;
            }

            int offset = 0;
            foreach (var p in batch)
            {
                p.Complete(scores.AsSpan(offset, p.Rows).ToArray());
                offset += p.Rows;
            }
        }
        catch (Exception e)
        {
            _logger.LogError(e, "A model call on {Rows} rows from {Requests} requests failed.", rows, batch.Count);
            foreach (var p in batch)
            {
                p.Fail(e);
            }
        }
        finally
        {
            _modelCallDuration.Record(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }

    private static void ScoreAlone(Pending p)
    {
        try
        {
            p.Complete(p.Predictor.ScoreRequests([p.Request]));
        }
        catch (Exception e)
        {
            p.Fail(e);
        }
    }

    private sealed class Pending(CtrPredictor predictor, CandidateRequest request)
    {
        public CtrPredictor Predictor { get; } = predictor;

        public CandidateRequest Request { get; } = request;

        public int Rows => Request.Rows;

        public long Enqueued { get; set; }

        public CancellationTokenRegistration Registration { get; set; }

        // Continuations run on the pool, never on the worker thread.
        public TaskCompletionSource<float[]> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Complete(float[] scores)
        {
            Completion.TrySetResult(scores);
            Registration.Dispose();
        }

        public void Fail(Exception e)
        {
            Completion.TrySetException(e);
            Registration.Dispose();
        }
    }
}
