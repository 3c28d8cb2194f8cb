namespace Dien.Serve;

/// <summary>The service's settings: section <c>Serve</c> of appsettings.json, environment variables (<c>Serve__Checkpoint</c>) or the command line (<c>--Serve:Checkpoint</c>).</summary>
public sealed class ServeOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Serve";

    /// <summary>The checkpoint to serve and watch (relative paths are taken from the current folder).</summary>
    public string Checkpoint { get; set; } = "out/best.dien";

    /// <summary>Most candidates in one request; more is a 400 naming the limit.</summary>
    public int MaxCandidates { get; set; } = 1000;

    /// <summary>Most behaviours in one history; more is a 400 (send the most recent ones).</summary>
    public int MaxHistory { get; set; } = 1000;

    /// <summary>libtorch intra-op threads; 0 leaves libtorch's default (one per core).</summary>
    public int Threads { get; set; }

    /// <summary>How often the checkpoint's size and time are checked besides the file-system watcher (which can miss events); 0 turns polling off.</summary>
    public double ReloadPollSeconds { get; set; } = 2;

    /// <summary>How requests are gathered into model calls.</summary>
    public BatchingSettings Batching { get; set; } = new();

    /// <summary>The problems with these settings, each naming its key.</summary>
    /// <returns>The problems found; empty when usable.</returns>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(Checkpoint))
        {
            problems.Add("Serve:Checkpoint is empty.");
        }

        if (MaxCandidates < 1)
        {
            problems.Add($"Serve:MaxCandidates = {MaxCandidates}: must be at least 1.");
        }

        if (MaxHistory < 1)
        {
            problems.Add($"Serve:MaxHistory = {MaxHistory}: must be at least 1.");
        }

        if (Threads < 0)
        {
            problems.Add($"Serve:Threads = {Threads}: must not be negative.");
        }

        if (ReloadPollSeconds < 0)
        {
            problems.Add($"Serve:ReloadPollSeconds = {ReloadPollSeconds}: must not be negative.");
        }

        if (Batching.MaxQueuedRows < MaxCandidates)
        {
            problems.Add($"Serve:Batching:MaxQueuedRows = {Batching.MaxQueuedRows} is below Serve:MaxCandidates = {MaxCandidates}: the largest request could never be queued.");
        }

        problems.AddRange(Batching.ToScorerOptions().Validate().Select(p => "Serve:Batching: " + p));
        return problems;
    }
}

/// <summary>Section <c>Serve:Batching</c>.</summary>
public sealed class BatchingSettings
{
    /// <summary>Gather concurrent requests into one model call; false gives every request a model call of its own.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Longest wait of the oldest queued request for others.</summary>
    public double MaxWaitMilliseconds { get; set; } = 1;

    /// <summary>Most candidate rows in one model call (the library's default, <c>BatchingScorerOptions.MaxBatchRows</c>).</summary>
    public int MaxBatchRows { get; set; } = 256;

    /// <summary>Most rows waiting; beyond it requests get 503.</summary>
    public int MaxQueuedRows { get; set; } = 8192;

    /// <summary>The library's options for these settings.</summary>
    /// <returns>The options.</returns>
    public Dien.Inference.BatchingScorerOptions ToScorerOptions() => new()
    {
        MaxWait = Enabled ? TimeSpan.FromMilliseconds(MaxWaitMilliseconds) : TimeSpan.Zero,
        MaxBatchRows = Enabled ? MaxBatchRows : 1,
        MaxQueuedRows = MaxQueuedRows,
    };
}
