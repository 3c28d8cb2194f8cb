using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.Primitives;

/// <summary>
/// When a kernel that runs only in training (the lookup's, the projections', PReLU's) takes a call instead of
/// libtorch: every tensor on CPU in one float dtype, gradient mode on, and at least one of them needing a gradient.
/// In inference libtorch's forward is as fast and these kernels would only add their autograd node.
/// </summary>
internal static class TrainingRoute
{
    /// <summary>Whether the kernel should take a call with these tensors (null ones, such as a missing bias, are skipped).</summary>
    /// <param name="tensors">The call's tensors.</param>
    public static bool Takes(params Tensor?[] tensors)
    {
        ScalarType? dtype = null;
        bool anyNeedsGrad = false;
        foreach (var t in tensors)
        {
            if (t is null)
            {
                continue;
            }

            dtype ??= t.dtype;
            if (t.device_type != DeviceType.CPU || t.dtype != dtype)
            {
                return false;
            }

            anyNeedsGrad |= t.requires_grad;
        }

        return dtype is ScalarType.Float32 or ScalarType.Float64 && anyNeedsGrad && torch.is_grad_enabled();
    }
}
