using static TorchSharp.torch;

namespace Dien.Runtime;

/// <summary>
/// Tensor sums and differences that pass libtorch a held scalar (<see cref="HeldScalars"/>). TorchSharp's
/// <c>a + b</c>, <c>a - b</c>, <c>1 - a</c> and one-argument <c>add</c>/<c>sub</c> make a temporary scalar for
/// the number or for alpha = 1, which a collection during the native call can free while libtorch reads it.
/// The results are the same values, bit for bit.
/// </summary>
internal static class HeldArithmetic
{
    /// <summary>a + b.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, HeldScalars.One);

    /// <summary>a - b.</summary>
    public static Tensor Minus(this Tensor a, Tensor b) => a.add(b, HeldScalars.MinusOne);

    /// <summary>1 - a (computed as -a + 1, which rounds the same).</summary>
    public static Tensor OneMinus(this Tensor a) => a.neg().add_(HeldScalars.One, HeldScalars.One);
}
