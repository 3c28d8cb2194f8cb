using TorchSharp;

namespace Dien.Runtime;

/// <summary>
/// Scalars that live as long as the process, for the constants the training step passes to libtorch.
/// </summary>
/// <remarks>
/// TorchSharp turns a number passed where a <see cref="Scalar"/> is expected into a native scalar that no
/// dispose scope tracks, so only its finalizer frees it, and its operations read the scalar's handle without
/// keeping the managed object alive. A collection during the native call can therefore free the scalar while
/// libtorch reads it: a training run failed that way with "Unknown scalar type" in BatchNorm's counter update.
/// Every number the library passes on a hot path is a scalar held here, or one its module holds for its lifetime.
/// </remarks>
internal static class HeldScalars
{
    /// <summary>The integer 0 (padding ids, zero weights).</summary>
    public static readonly Scalar Zero = 0.ToScalar();

    /// <summary>The integer 1.</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>The integer -1 (alpha of a difference: a - b is a + (-1) b, as libtorch computes sub).</summary>
    public static readonly Scalar MinusOne = (-1).ToScalar();

    /// <summary>A score far below any real one, for masked softmax positions.</summary>
    public static readonly Scalar MaskedScore = (-1e9).ToScalar();
}
