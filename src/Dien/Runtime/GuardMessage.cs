using System.Runtime.CompilerServices;

namespace Dien.Runtime;

/// <summary>
/// The message of a <see cref="Guard.That(bool, ref GuardMessage, string)"/> check, written as an interpolated string
/// but formatted only when the check fails: while the condition holds, the compiler skips every hole, so a message
/// that reads a tensor's shape (a native call) or its device costs nothing on the hot path.
/// </summary>
/// <remarks>The pattern of <c>Debug.Assert</c>'s message handler: the condition comes in first and decides.</remarks>
[InterpolatedStringHandler]
internal ref struct GuardMessage
{
    private DefaultInterpolatedStringHandler _text;
    private readonly bool _failed;

    /// <summary>Starts a message that is built only when <paramref name="condition"/> is false.</summary>
    /// <param name="literalLength">Characters of literal text (from the compiler).</param>
    /// <param name="formattedCount">Holes (from the compiler).</param>
    /// <param name="condition">The check's condition.</param>
    /// <param name="shouldAppend">False while the condition holds: the holes are not evaluated.</param>
    public GuardMessage(int literalLength, int formattedCount, bool condition, out bool shouldAppend)
    {
        _failed = !condition;
        shouldAppend = _failed;
        _text = _failed ? new DefaultInterpolatedStringHandler(literalLength, formattedCount) : default;
    }

    /// <summary>Appends literal text.</summary>
    /// <param name="value">The text.</param>
    public void AppendLiteral(string value) => _text.AppendLiteral(value);

    /// <summary>Appends a hole.</summary>
    /// <typeparam name="T">The hole's type.</typeparam>
    /// <param name="value">The hole's value.</param>
    public void AppendFormatted<T>(T value) => _text.AppendFormatted(value);

    /// <summary>Appends a hole with a format.</summary>
    /// <typeparam name="T">The hole's type.</typeparam>
    /// <param name="value">The hole's value.</param>
    /// <param name="format">The format string.</param>
    public void AppendFormatted<T>(T value, string? format) => _text.AppendFormatted(value, format);

    /// <summary>The message, or an empty string when the condition held.</summary>
    /// <returns>The formatted message.</returns>
    public string ToStringAndClear() => _failed ? _text.ToStringAndClear() : string.Empty;
}
