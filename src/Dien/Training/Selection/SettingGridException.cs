using Dien.Runtime;

namespace Dien.Training.Selection;

/// <summary>Thrown when the axes of a <see cref="SettingGrid"/> cannot be read; <see cref="OptionsException.Errors"/> lists every problem.</summary>
public sealed class SettingGridException : OptionsException
{
    /// <summary>Creates the exception from the list of problems.</summary>
    /// <param name="errors">One sentence per problem, each naming the axis and the value.</param>
    public SettingGridException(IReadOnlyList<string> errors)
        : base(nameof(SettingGrid), errors)
    {
    }
}
