using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Runtime;

/// <summary>
/// The library's one helper for argument checks (shapes, dtypes, devices, host lengths, ranges), in the spirit of
/// Polly's <c>Guard</c> and NodaTime's <c>Preconditions</c>. Each check throws an <see cref="ArgumentException"/>
/// whose message names the argument (taken from the call site through <see cref="CallerArgumentExpressionAttribute"/>
/// unless given), shows the value it got and says what was expected, so a bad call fails with a message
/// before any native or unsafe code runs.
/// </summary>
internal static class Guard
{
    /// <summary>A dimension that may have any size, in <see cref="Shape"/>.</summary>
    public const long Any = -1;

    /// <summary>A tensor's shape as written in messages: <c>[2, 3, 4]</c>.</summary>
    public static string ShapeOf(Tensor tensor) => $"[{string.Join(", ", tensor.shape)}]";

    /// <summary>Throws unless <paramref name="condition"/> holds.</summary>
    /// <param name="condition">What must hold.</param>
    /// <param name="message">The message: it names the argument, its value and the rule.</param>
    /// <param name="name">The argument's name.</param>
    /// <exception cref="ArgumentException"><paramref name="condition"/> is false.</exception>
    public static void That(bool condition, string message, string name)
    {
        if (!condition)
        {
            throw new ArgumentException(message, name);
        }
    }

    /// <summary>
    /// Throws unless <paramref name="condition"/> holds, with an interpolated message that is formatted only then
    /// (<see cref="GuardMessage"/>): checks on every training step pay for the condition alone.
    /// </summary>
    /// <param name="condition">What must hold.</param>
    /// <param name="message">The message: it names the argument, its value and the rule.</param>
    /// <param name="name">The argument's name.</param>
    /// <exception cref="ArgumentException"><paramref name="condition"/> is false.</exception>
    public static void That(bool condition, [InterpolatedStringHandlerArgument(nameof(condition))] ref GuardMessage message, string name)
    {
        if (!condition)
        {
            throw new ArgumentException(message.ToStringAndClear(), name);
        }
    }

    /// <summary>
    /// A packed route (inputs holding the valid positions only) runs in a fused CPU kernel only: throws unless
    /// <paramref name="runs"/>, naming the tensor's dtype and device and the module's fused-kernel switch.
    /// </summary>
    /// <param name="runs">Whether the module's fused kernel takes <paramref name="tensor"/>.</param>
    /// <param name="tensor">The packed input.</param>
    /// <param name="useFusedKernels">The module's fused-kernel switch.</param>
    /// <param name="name">The argument's name.</param>
    /// <exception cref="ArgumentException"><paramref name="runs"/> is false.</exception>
    public static void PackedRoute(bool runs, Tensor tensor, bool useFusedKernels, [CallerArgumentExpression(nameof(tensor))] string name = "")
        => That(runs, $"{name} is packed ({tensor.dtype} {ShapeOf(tensor)} on {tensor.device}), which only the fused CPU kernel reads (Float32 or Float64, fused kernels on; they are {(useFusedKernels ? "on" : "off")}).", name);

    /// <summary>The tensor has exactly <paramref name="expected"/> as its shape, <see cref="Any"/> matching any size.</summary>
    /// <param name="tensor">The tensor.</param>
    /// <param name="expected">One size per dimension, or <see cref="Any"/>.</param>
    /// <param name="why">An optional reason, added to the message in parentheses.</param>
    /// <param name="name">The argument's name.</param>
    /// <exception cref="ArgumentException">The rank or a size differs.</exception>
    public static void Shape(Tensor tensor, long[] expected, string? why = null, [CallerArgumentExpression(nameof(tensor))] string name = "")
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (!Fits(tensor, expected))
        {
            throw new ArgumentException(
                $"{name} has shape {ShapeOf(tensor)}: expected [{string.Join(", ", expected.Select(Size))}]{(why is null ? string.Empty : $" ({why})")}.", name);
        }
    }

    /// <summary>The tensor has the same shape as <paramref name="like"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="tensor"/> is null.</exception>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public static void SameShape(Tensor? tensor, Tensor like, [CallerArgumentExpression(nameof(tensor))] string name = "")
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (!Sizes.Same(tensor, like))
        {
            throw new ArgumentException($"{name} has shape {ShapeOf(tensor)}: expected {ShapeOf(like)}.", name);
        }
    }

    /// <summary>A mask: bool [<paramref name="batch"/>, <paramref name="steps"/>], on CPU when <paramref name="onCpu"/>.</summary>
    /// <exception cref="ArgumentException">The dtype, shape or device differs.</exception>
    public static void Mask(Tensor mask, long batch, long steps, bool onCpu = false, [CallerArgumentExpression(nameof(mask))] string name = "")
    {
        ArgumentNullException.ThrowIfNull(mask, name);
        if (mask.dtype != ScalarType.Bool || !Fits(mask, new[] { batch, steps }) || (onCpu && mask.device_type != DeviceType.CPU))
        {
            throw new ArgumentException(
                $"{name} is {mask.dtype} {ShapeOf(mask)}{(onCpu ? $" on {mask.device}" : string.Empty)}: expected Bool [{batch}, {steps}]{(onCpu ? " on CPU" : string.Empty)}.", name);
        }
    }

    /// <summary>Host lengths: one per row of <paramref name="batch"/> rows, each in 0 .. <paramref name="steps"/>.</summary>
    /// <exception cref="ArgumentException">The count differs or a length is out of range; the message gives its index and value.</exception>
    public static void Lengths(int[] lengths, long batch, long steps, [CallerArgumentExpression(nameof(lengths))] string name = "")
    {
        ArgumentNullException.ThrowIfNull(lengths, name);
        if (lengths.Length != batch)
        {
            throw new ArgumentException($"{name} has {lengths.Length} entries: expected one per row, B = {batch}.", name);
        }

        for (int b = 0; b < lengths.Length; b++)
        {
            if (lengths[b] < 0 || lengths[b] > steps)
            {
                throw new ArgumentException($"{name}[{b}] = {lengths[b]}: must be in 0 .. T = {steps}.", name);
            }
        }
    }

    /// <summary>The tensor is of <paramref name="dtype"/> on CPU, like <paramref name="reference"/>.</summary>
    /// <exception cref="ArgumentException">The dtype or device differs.</exception>
    public static void CpuLike(Tensor tensor, ScalarType dtype, string reference, [CallerArgumentExpression(nameof(tensor))] string name = "")
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (tensor.dtype != dtype || tensor.device_type != DeviceType.CPU)
        {
            throw new ArgumentException($"{name} is {tensor.dtype} on {tensor.device}: expected {dtype} on CPU like {reference}.", name);
        }
    }

    /// <summary>The value lies in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    /// <exception cref="ArgumentException">It does not; the message gives the value and the range.</exception>
    public static void InRange(long value, long min, long max, [CallerArgumentExpression(nameof(value))] string name = "")
    {
        if (value < min || value > max)
        {
            throw new ArgumentException($"{name} = {value}: must be in {min} .. {max}.", name);
        }
    }

    private static bool Fits(Tensor tensor, long[] expected)
    {
        // Size by size (Sizes): reading the whole shape costs more than the check.
        if (tensor.dim() != expected.Length)
        {
            return false;
        }

        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] != Any && tensor.size(i) != expected[i])
            {
                return false;
            }
        }

        return true;
    }

    private static string Size(long size) => size == Any ? "*" : size.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
