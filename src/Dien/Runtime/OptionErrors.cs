using System.Globalization;

namespace Dien.Runtime;

/// <summary>
/// Collects the problems of one options object, so that every options class validates the same way: all
/// problems at once, each as <c>Option = value: rule.</c>, thrown together as the family's <see cref="OptionsException"/>.
/// </summary>
internal sealed class OptionErrors
{
    private readonly List<string> _errors = new();

    /// <summary>The problems found so far.</summary>
    public IReadOnlyList<string> Errors => _errors;

    /// <summary>Records a problem unless <paramref name="ok"/>.</summary>
    /// <param name="ok">Whether the value is valid.</param>
    /// <param name="option">The option's name.</param>
    /// <param name="value">Its value.</param>
    /// <param name="rule">What it must satisfy, without a final period.</param>
    public void Require(bool ok, string option, object? value, string rule)
    {
        if (!ok)
        {
            _errors.Add($"{option} = {Format(value)}: {rule}.");
        }
    }

    /// <summary>Records a problem in its own words.</summary>
    public void Add(string problem) => _errors.Add(problem);

    /// <summary>A value as messages show it (invariant culture, doubles round-trippable).</summary>
    public static string Format(object? value) => value switch
    {
        null => "null",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "null",
    };
}
