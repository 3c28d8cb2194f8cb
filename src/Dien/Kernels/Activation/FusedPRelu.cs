using Dien.Kernels.Primitives;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.Activation;

/// <summary>
/// PReLU with one slope per column over rows [N, C] in one CPU kernel (<see cref="PReluKernel{T}"/>) while training:
/// the same values and gradients as libtorch's <c>prelu</c>, which stays the path for inference, other shapes and
/// other devices.
/// </summary>
/// <remarks>
/// Why: the head's PReLU took 0.20 ms forward and backward at [128, 200] on W, against 0.06 for a ReLU; most of it is
/// the slope's gradient, a reduction over the rows that libtorch runs as a tensor iterator and a sum.
/// </remarks>
internal static class FusedPRelu
{
    /// <summary>PReLU of <paramref name="x"/> with <paramref name="slopes"/>.</summary>
    /// <param name="x">Rows [N, C].</param>
    /// <param name="slopes">One slope per column, [C].</param>
    public static Tensor Apply(Tensor x, Tensor slopes)
    {
        bool fused = x.dim() == 2 && slopes.dim() == 1 && slopes.size(0) == x.size(1) && TrainingRoute.Takes(x, slopes);
        return fused ? PReluFunction.apply(x, slopes) : nn.functional.prelu(x, slopes);
    }
}
