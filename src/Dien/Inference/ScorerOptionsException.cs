using Dien.Runtime;

namespace Dien.Inference;

/// <summary>
/// Thrown when <see cref="BatchingScorerOptions"/> are invalid; <see cref="OptionsException.Errors"/> lists every problem,
/// each naming its option and value.
/// </summary>
public sealed class ScorerOptionsException : OptionsException
{
    /// <summary>Creates the exception from the list of problems.</summary>
    /// <param name="errors">One sentence per problem, each naming its option.</param>
    public ScorerOptionsException(IReadOnlyList<string> errors)
        : base(nameof(BatchingScorerOptions), errors)
    {
    }
}
