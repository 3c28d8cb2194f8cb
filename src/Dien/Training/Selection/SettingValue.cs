using System.Reflection;

namespace Dien.Training.Selection;

/// <summary>One option of a <see cref="SettingCandidate"/> and the value it takes.</summary>
/// <param name="Property">The option, a property of <see cref="Model.CtrModelOptions"/> or <see cref="TrainerOptions"/>.</param>
/// <param name="Text">The value as it was written.</param>
/// <param name="Value">The value, converted to the option's type.</param>
internal sealed record SettingValue(PropertyInfo Property, string Text, object? Value);
