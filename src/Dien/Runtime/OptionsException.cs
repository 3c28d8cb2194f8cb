namespace Dien.Runtime;

/// <summary>
/// Thrown when an options object is invalid: <see cref="Errors"/> lists every problem, each naming its option and
/// value. Each family of options has its own subclass (<c>CtrModelOptionsException</c>, <c>TrainerOptionsException</c>,
/// <c>DataOptionsException</c>, <c>ScorerOptionsException</c>), so a caller can tell which settings to fix.
/// </summary>
public abstract class OptionsException : ArgumentException
{
    /// <summary>Creates the exception from the list of problems.</summary>
    /// <param name="optionsName">The options class, for the message.</param>
    /// <param name="errors">One sentence per problem, each naming its option.</param>
    protected OptionsException(string optionsName, IReadOnlyList<string> errors)
        : base($"Invalid {optionsName} ({errors.Count} problem{(errors.Count == 1 ? string.Empty : "s")}):{Environment.NewLine}  " +
               string.Join(Environment.NewLine + "  ", errors))
    {
        Errors = errors;
    }

    /// <summary>One sentence per problem, each naming its option.</summary>
    public IReadOnlyList<string> Errors { get; }
}
