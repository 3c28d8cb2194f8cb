namespace Dien.Inference;

/// <summary>
/// A <see cref="BatchingScorer"/> refused a request because its queue is full (or it is shutting down): the caller
/// should shed the load (an HTTP service answers 503) rather than wait.
/// </summary>
public sealed class ScorerOverloadedException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was refused and why.</param>
    public ScorerOverloadedException(string message)
        : base(message)
    {
    }
}
