using static TorchSharp.torch;

namespace Dien.Auxiliary;

/// <summary>Shape checks of the auxiliary losses' inputs, so a bad call fails with a message naming the tensor.</summary>
internal static class AuxiliaryGuard
{
    /// <exception cref="ArgumentException">A shape does not fit.</exception>
    public static void Check(Tensor states, Tensor behaviours, Tensor mask, long hiddenSize, long behaviourSize)
    {
        ArgumentNullException.ThrowIfNull(states);
        ArgumentNullException.ThrowIfNull(behaviours);
        ArgumentNullException.ThrowIfNull(mask);
        if (states.dim() != 3 || states.shape[2] != hiddenSize)
        {
            throw new ArgumentException($"states have shape [{Shape(states)}]: expected [B, T, {hiddenSize}].", nameof(states));
        }

        if (behaviours.dim() != 3 || behaviours.shape[0] != states.shape[0] || behaviours.shape[1] != states.shape[1] || behaviours.shape[2] != behaviourSize)
        {
            throw new ArgumentException(
                $"behaviours have shape [{Shape(behaviours)}]: expected [{states.shape[0]}, {states.shape[1]}, {behaviourSize}] (the inner product needs the width of the states).",
                nameof(behaviours));
        }

        if (mask.dtype != ScalarType.Bool || mask.dim() != 2 || mask.shape[0] != states.shape[0] || mask.shape[1] != states.shape[1])
        {
            throw new ArgumentException($"mask is {mask.dtype} [{Shape(mask)}]: expected Bool [{states.shape[0]}, {states.shape[1]}].", nameof(mask));
        }
    }

    /// <exception cref="ArgumentException"><paramref name="value"/> is null or not shaped like <paramref name="like"/>.</exception>
    public static void RequireSameShape(Tensor? value, Tensor like, string name)
    {
        if (value is null)
        {
            throw new ArgumentNullException(name);
        }

        if (!value.shape.SequenceEqual(like.shape))
        {
            throw new ArgumentException($"{name} has shape [{Shape(value)}]: expected [{Shape(like)}].", name);
        }
    }

    private static string Shape(Tensor t) => string.Join(", ", t.shape);
}
