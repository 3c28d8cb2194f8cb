using Dien.Runtime;

namespace Dien.Inference;

/// <summary>
/// How a <see cref="BatchingScorer"/> gathers concurrent requests into one model call, and how much it lets wait.
/// </summary>
/// <remarks>
/// A model call on many rows costs much less per row than one on a few (docs/performance.md), so under many concurrent
/// small requests the scorer waits a little for company. It never waits when nothing else is queued behind the first
/// request's deadline, and it never waits once <see cref="MaxBatchRows"/> rows are gathered. With
/// <see cref="MaxBatchRows"/> = 1 every request gets a model call of its own (batching off), still serialised and
/// still bounded by <see cref="MaxQueuedRows"/>.
/// </remarks>
public sealed class BatchingScorerOptions
{
    /// <summary>Longest time the oldest queued request waits for others before its model call starts.</summary>
    /// <value>The default value is 1 ms. Zero takes whatever is queued when the worker is free, without waiting.</value>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromMilliseconds(1);

    /// <summary>Most rows (candidates, summed over requests) in one model call; a single larger request still gets a call of its own.</summary>
    /// <value>
    /// The default value is 256: a ranking call of up to 256 candidates runs libtorch on one thread, and on 2 cores the
    /// service sample's load test (32 clients, 100 candidates a request) answered 1,270 requests/s at p99 37 ms with it,
    /// against 752-822 at p99 62-66 ms with 1,024 (docs/performance.md, Small scoring calls). Requests of one candidate
    /// were served alike with either.
    /// </value>
    public int MaxBatchRows { get; set; } = 256;

    /// <summary>Most rows waiting for a model call; a request that would go beyond is refused with <see cref="ScorerOverloadedException"/>.</summary>
    /// <value>The default value is 8192.</value>
    public int MaxQueuedRows { get; set; } = 8192;

    /// <summary>A copy of every value, so that whoever keeps these options is not changed by later changes to this instance.</summary>
    /// <returns>A new instance with the same values.</returns>
    public BatchingScorerOptions Clone() => (BatchingScorerOptions)MemberwiseClone();

    /// <summary>Every problem with these options, each naming its option; empty when they are valid.</summary>
    /// <returns>The problems found.</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new OptionErrors();
        errors.Require(MaxWait >= TimeSpan.Zero && MaxWait <= TimeSpan.FromSeconds(1), nameof(MaxWait), MaxWait, "must be in 0 .. 1 s");
        errors.Require(MaxBatchRows >= 1, nameof(MaxBatchRows), MaxBatchRows, "must be at least 1");
        errors.Require(MaxQueuedRows >= 1, nameof(MaxQueuedRows), MaxQueuedRows, "must be at least 1");
        return errors.Errors;
    }

    /// <summary>Throws when <see cref="Validate"/> finds any problem.</summary>
    /// <exception cref="ScorerOptionsException">Every problem, each naming its option and value.</exception>
    public void EnsureValid()
    {
        var problems = Validate();
        if (problems.Count > 0)
        {
            throw new ScorerOptionsException(problems);
        }
    }
}
