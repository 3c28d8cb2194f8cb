using System.Diagnostics.Metrics;
using Dien.Checkpoints;
using Dien.Inference;
using Microsoft.Extensions.Options;

namespace Dien.Serve;

/// <summary>What the last reload attempt did.</summary>
/// <param name="Time">When it finished.</param>
/// <param name="Outcome">loaded, refused or unchanged.</param>
/// <param name="Sha256">The file's hash, when it could be read.</param>
/// <param name="Error">Why it was refused.</param>
public sealed record ReloadStatus(DateTimeOffset Time, string Outcome, string? Sha256, string? Error);

/// <summary>
/// Holds the served model and the batching scorer, and reloads the checkpoint when it is replaced: a file-system watcher
/// (and a slow poll, since watchers can miss events) signals one background loop, which loads and verifies the new file
/// off the request path and swaps it in; requests already holding the old model finish on it. A damaged file is
/// refused and logged, and the old model keeps serving.
/// </summary>
public sealed class ModelHost : IHostedService, IDisposable
{
    private readonly ServeOptions _options;
    private readonly ILogger<ModelHost> _logger;
    private readonly SemaphoreSlim _changed = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Counter<long> _reloads;
    private readonly string _path;
    private FileSystemWatcher? _watcher;
    private Task _reloadLoop = Task.CompletedTask;
    private Timer? _poll;
    private (long Length, DateTime Time) _polled;
    private volatile ServedModel? _current;
    private (long Length, DateTime Time) _attempted = (-1, default);
    private int _disposed;

    /// <summary>Creates the host (the model is loaded in <see cref="StartAsync"/>).</summary>
    /// <param name="options">The settings.</param>
    /// <param name="meterFactory">For the scorer's and the reloads' metrics.</param>
    /// <param name="logger">The log.</param>
    /// <param name="scorerLogger">The scorer's log.</param>
    public ModelHost(IOptions<ServeOptions> options, IMeterFactory meterFactory, ILogger<ModelHost> logger, ILogger<BatchingScorer> scorerLogger)
    {
        _options = options.Value;
        _logger = logger;
        _path = Path.GetFullPath(_options.Checkpoint);
        Scorer = new BatchingScorer(_options.Batching.ToScorerOptions(), meterFactory, scorerLogger);
        _reloads = meterFactory.Create(ServeMetrics.MeterName).CreateCounter<long>("dien.serve.reloads", "{reload}", "Checkpoint reload attempts, by outcome (loaded, refused).");
    }

    /// <summary>The batching scorer every request goes through.</summary>
    public BatchingScorer Scorer { get; }

    /// <summary>The model now served, or null before a checkpoint could be loaded.</summary>
    public ServedModel? Current => _current;

    /// <summary>The full path of the watched checkpoint.</summary>
    public string CheckpointPath => _path;

    /// <summary>The last reload attempt after the first load, if any.</summary>
    public ReloadStatus? LastReload { get; private set; }

    /// <summary>Leases the current model (see <see cref="ServedModel.TryAcquire"/>); null when none is loaded.</summary>
    /// <returns>The leased model; release it when done.</returns>
    public ServedModel? Acquire()
    {
        while (true)
        {
            var model = _current;
            if (model is null || model.TryAcquire())
            {
                return model;
            }
        }
    }

    /// <summary>Loads the checkpoint (a failure is logged, and the service waits for a usable file), then starts watching.</summary>
    /// <param name="cancellationToken">Unused.</param>
    /// <returns>A completed task.</returns>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        TryLoad(initial: true);
        string folder = Path.GetDirectoryName(_path)!;
        if (Directory.Exists(folder))
        {
            _watcher = new FileSystemWatcher(folder, Path.GetFileName(_path))
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            _watcher.Created += (_, _) => Signal();
            _watcher.Changed += (_, _) => Signal();
            _watcher.Renamed += (_, _) => Signal();
            _watcher.EnableRaisingEvents = true;
        }
        else
        {
            _logger.LogWarning("The checkpoint folder {Folder} does not exist; only polling will notice a checkpoint there.", folder);
        }

        if (_options.ReloadPollSeconds > 0)
        {
            var period = TimeSpan.FromSeconds(_options.ReloadPollSeconds);
            _polled = Stat();
            _poll = new Timer(_ => Poll(), null, period, period);
        }

        _reloadLoop = Task.Run(ReloadLoopAsync);
        return Task.CompletedTask;
    }

    /// <summary>Stops watching. The model and the scorer stay up until <see cref="Dispose"/>, after the server has finished its requests.</summary>
    /// <param name="cancellationToken">Unused.</param>
    /// <returns>When the reload loop has ended.</returns>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _watcher?.Dispose();
        _poll?.Dispose();
        await _stop.CancelAsync();
        try
        {
            await _reloadLoop.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Shutting down either way.
        }
    }

    /// <summary>Finishes queued requests, then disposes the model.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _watcher?.Dispose();
        _poll?.Dispose();
        _stop.Cancel();
        Scorer.Dispose();
        _current?.Retire();
    }

    private void Signal()
    {
        try
        {
            _changed.Release();
        }
        catch (SemaphoreFullException)
        {
            // A reload is already pending.
        }
    }

    private (long Length, DateTime Time) Stat()
    {
        var info = new FileInfo(_path);
        return info.Exists ? (info.Length, info.LastWriteTimeUtc) : (-1, default);
    }

    private void Poll()
    {
        var now = Stat();
        if (now != _polled)
        {
            _polled = now;
            Signal();
        }
    }

    private async Task ReloadLoopAsync()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await _changed.WaitAsync(token);
                // A writer's burst of events settles first (one atomic rename gives one or two).
                await Task.Delay(TimeSpan.FromMilliseconds(100), token);
                TryLoad(initial: false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void TryLoad(bool initial)
    {
        if (!File.Exists(_path))
        {
            _logger.LogWarning("No checkpoint at {Path}; {Serving}.", _path, _current is null ? "not ready until one is written" : $"still serving {_current.Version}");
            return;
        }

        // The size and time tell whether the file changed since the last attempt; the file itself is read once, by the load.
        var stat = Stat();
        if (stat == _attempted)
        {
            return;
        }

        try
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var next = ServedModel.Load(_path);
            _attempted = stat;
            if (next.Sha256 == _current?.Sha256)
            {
                next.Retire(); // rewritten with the same bytes
                return;
            }

            var previous = _current;
            _current = next;
            previous?.Retire();
            _reloads.Add(1, new KeyValuePair<string, object?>("outcome", "loaded"));
            if (!initial)
            {
                LastReload = new ReloadStatus(DateTimeOffset.UtcNow, "loaded", next.Sha256, null);
            }

            _logger.LogInformation(
                "Serving checkpoint {Path} version {Version} ({Kind}, written {FileTime:o}, histories cut to {MaxHistory}), loaded and verified in {Milliseconds:F0} ms; replaced {Previous}.",
                _path, next.Version, next.Kind, next.FileTime, next.MaxHistoryLength?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no limit",
                System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds, previous?.Version ?? "nothing");
        }
        catch (CheckpointException e)
        {
            _attempted = stat;
            Refuse(e.Sha256, e);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            // Replaced or locked while being read: look again (a writer's rename signals too).
            _logger.LogInformation("Checkpoint {Path} could not be read ({Message}); reading it again.", _path, e.Message);
            Signal();
        }
        catch (Exception e)
        {
            _attempted = stat;
            Refuse(null, e);
        }
    }

    private void Refuse(string? sha, Exception e)
    {
        _reloads.Add(1, new KeyValuePair<string, object?>("outcome", "refused"));
        LastReload = new ReloadStatus(DateTimeOffset.UtcNow, "refused", sha, e.Message);
        _logger.LogError(e, "Refused checkpoint {Path} ({Sha256}): {Reason} {Serving}.",
            _path, sha, e.Message, _current is null ? "No model is served yet." : $"Still serving {_current.Version}.");
    }
}
