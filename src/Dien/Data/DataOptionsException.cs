using Dien.Runtime;

namespace Dien.Data;

/// <summary>
/// Thrown when the options of the data pipeline (<c>BatcherOptions</c>, <c>SyntheticOptions</c>) are invalid;
/// <see cref="OptionsException.Errors"/> lists every problem.
/// </summary>
public sealed class DataOptionsException : OptionsException
{
    /// <summary>Creates the exception from the list of problems.</summary>
    /// <param name="optionsName">The options class.</param>
    /// <param name="errors">One sentence per problem, each naming its option.</param>
    public DataOptionsException(string optionsName, IReadOnlyList<string> errors)
        : base(optionsName, errors)
    {
    }

    /// <summary>Throws when <paramref name="errors"/> is not empty.</summary>
    internal static void ThrowIfAny(string optionsName, IReadOnlyList<string> errors)
    {
        if (errors.Count > 0)
        {
            throw new DataOptionsException(optionsName, errors);
        }
    }
}
