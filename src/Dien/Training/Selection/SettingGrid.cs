using System.Globalization;
using System.Reflection;
using Dien.Model;

namespace Dien.Training.Selection;

/// <summary>
/// A small grid of option values to try, each axis written as <c>Name=value1,value2</c> (for example
/// <c>Alpha=0,1</c> or <c>HeadSumTerms=true,false</c>); its <see cref="Candidates"/> are every combination. A name is
/// a settable property of <see cref="CtrModelOptions"/> or, failing that, of <see cref="TrainerOptions"/> (case ignored).
/// </summary>
/// <remarks>
/// Values are read with the invariant culture: numbers, <c>true</c>/<c>false</c>, an enum member's name, <c>null</c>
/// for a nullable option, and for a list of whole numbers the elements joined by <c>-</c> (<c>HeadHiddenSizes=200-80,400-160</c>).
/// Every axis is read when the grid is built, so a misspelt name or a value of the wrong type fails before any training.
/// </remarks>
public sealed class SettingGrid
{
    private SettingGrid(IReadOnlyList<SettingCandidate> candidates) => Candidates = candidates;

    /// <summary>Every combination of the axes' values, the first axis varying slowest; one empty candidate when there are no axes.</summary>
    public IReadOnlyList<SettingCandidate> Candidates { get; }

    /// <summary>Reads a grid from its axes.</summary>
    /// <param name="axes">One <c>Name=value1,value2,...</c> per option to vary; a name may appear once.</param>
    /// <returns>The grid.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="axes"/> is null.</exception>
    /// <exception cref="SettingGridException">An axis is malformed, names no settable option, repeats a name, or holds a value its option cannot take; the message lists every problem.</exception>
    public static SettingGrid Parse(IEnumerable<string> axes)
    {
        ArgumentNullException.ThrowIfNull(axes);
        var errors = new List<string>();
        var parsed = new List<IReadOnlyList<SettingValue>>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (string axis in axes)
        {
            int eq = axis?.IndexOf('=', StringComparison.Ordinal) ?? -1;
            if (axis is null || eq <= 0 || eq == axis.Length - 1)
            {
                errors.Add($"'{axis}': expected Name=value or Name=value1,value2.");
                continue;
            }

            string name = axis[..eq].Trim();
            var property = Find(name);
            if (property is null)
            {
                errors.Add($"'{name}' (in '{axis}'): no settable option of that name in {nameof(CtrModelOptions)} or {nameof(TrainerOptions)}.");
                continue;
            }

            if (!seen.Add(property.Name))
            {
                errors.Add($"'{name}' (in '{axis}'): {property.Name} is already an axis of the grid.");
                continue;
            }

            var values = new List<SettingValue>();
            foreach (string text in axis[(eq + 1)..].Split(',', StringSplitOptions.TrimEntries))
            {
                if (TryConvert(text, property.PropertyType, out object? value, out string expected))
                {
                    values.Add(new SettingValue(property, text, value));
                }
                else
                {
                    errors.Add($"{property.Name} = '{text}' (in '{axis}'): expected {expected}.");
                }
            }

            parsed.Add(values);
        }

        if (errors.Count > 0)
        {
            throw new SettingGridException(errors);
        }

        IEnumerable<IReadOnlyList<SettingValue>> combinations = [[]];
        foreach (var axis in parsed)
        {
            combinations = combinations.SelectMany(prefix => axis.Select(value => (IReadOnlyList<SettingValue>)[.. prefix, value])).ToList();
        }

        return new SettingGrid(combinations.Select(values => new SettingCandidate(values)).ToList());
    }

    /// <inheritdoc cref="Parse(IEnumerable{string})"/>
    public static SettingGrid Parse(params string[] axes) => Parse((IEnumerable<string>)axes);

    private static PropertyInfo? Find(string name)
    {
        const BindingFlags Flags = BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase;
        var property = typeof(CtrModelOptions).GetProperty(name, Flags) ?? typeof(TrainerOptions).GetProperty(name, Flags);
        return property is { CanWrite: true } ? property : null;
    }

    private static bool TryConvert(string text, Type type, out object? value, out string expected)
    {
        var inner = Nullable.GetUnderlyingType(type);
        if (inner is not null && text == "null")
        {
            value = null;
            expected = string.Empty;
            return true;
        }

        type = inner ?? type;
        expected = type.IsEnum ? string.Join(", ", Enum.GetNames(type))
            : type == typeof(IList<int>) ? "whole numbers joined by -"
            : type == typeof(bool) ? "true or false"
            : type.Name + (inner is not null ? " or null" : string.Empty);
        value = null;
        if (type.IsEnum)
        {
            if (Enum.TryParse(type, text, ignoreCase: true, out value) && Enum.IsDefined(type, value!) && !int.TryParse(text, out _))
            {
                return true;
            }

            return false;
        }

        if (type == typeof(IList<int>))
        {
            var parts = text.Split('-', StringSplitOptions.RemoveEmptyEntries);
            var list = new List<int>();
            foreach (string part in parts)
            {
                if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out int element))
                {
                    return false;
                }

                list.Add(element);
            }

            value = list;
            return true;
        }

        try
        {
            value = Convert.ChangeType(text, type, CultureInfo.InvariantCulture);
            return true;
        }
        catch (Exception e) when (e is FormatException or InvalidCastException or OverflowException)
        {
            return false;
        }
    }
}
