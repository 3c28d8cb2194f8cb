using Dien.Model;

namespace Dien.Training.Selection;

/// <summary>One combination of a <see cref="SettingGrid"/>: a value for each of its options.</summary>
public sealed class SettingCandidate
{
    private readonly IReadOnlyList<SettingValue> _values;

    internal SettingCandidate(IReadOnlyList<SettingValue> values) => _values = values;

    /// <summary>The options this candidate sets, by name, with their values as written (in the grid's order).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Settings => _values.Select(v => new KeyValuePair<string, string>(v.Property.Name, v.Text)).ToList();

    /// <summary>Sets this candidate's values on the options; options it does not name keep theirs.</summary>
    /// <param name="model">The model's options.</param>
    /// <param name="trainer">The trainer's options.</param>
    /// <exception cref="ArgumentNullException">Either is null.</exception>
    public void ApplyTo(CtrModelOptions model, TrainerOptions trainer)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(trainer);
        foreach (var value in _values)
        {
            // A list option gets its own copy, so that candidates never share (and mutate) one list.
            object? copy = value.Value is IList<int> list ? new List<int>(list) : value.Value;
            value.Property.SetValue(value.Property.DeclaringType == typeof(CtrModelOptions) ? model : trainer, copy);
        }
    }

    /// <summary>The settings as <c>Name=value</c> separated by spaces, or <c>(as given)</c> for the empty candidate.</summary>
    /// <returns>The description.</returns>
    public override string ToString() => _values.Count == 0 ? "(as given)" : string.Join(" ", _values.Select(v => $"{v.Property.Name}={v.Text}"));
}
