using Dien.Kernels.Primitives;
using Dien.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.Projection;

/// <summary>
/// A linear layer's x W^T + b over rows, on <see cref="LinearKernel{T}"/> where a gradient is needed on CPU, and
/// <see cref="nn.functional.linear"/> otherwise (inference, where libtorch's forward is as fast and packs no
/// weights, and other devices). The recurrences' input projections run through it when they train.
/// </summary>
internal static class FusedLinear
{
    /// <summary>x W^T + b: [..., O] from x [..., K], W [O, K], b [O] or null.</summary>
    /// <param name="x">The inputs [..., K].</param>
    /// <param name="weight">W [O, K].</param>
    /// <param name="bias">b [O], or null.</param>
    /// <exception cref="ArgumentException">The widths do not fit; the message names the tensors' shapes.</exception>
    public static Tensor Apply(Tensor x, Tensor weight, Tensor? bias)
    {
        if (!TrainingRoute.Takes(x, weight, bias))
        {
            return nn.functional.linear(x, weight, bias);
        }

        long k = x.size(-1);
        Guard.That(weight.dim() == 2 && weight.size(1) == k, $"weight {Guard.ShapeOf(weight)} should be [O, {k}] for x {Guard.ShapeOf(x)}.", nameof(weight));
        Guard.That(bias is null || (bias.dim() == 1 && bias.size(0) == weight.size(0)), $"bias {(bias is null ? "null" : Guard.ShapeOf(bias))} should be [{weight.size(0)}].", nameof(bias));
        long[] outer = Sizes.AllButLast(x);
        var flat = x.reshape(-1, k);
        var y = LinearFunction.apply(flat, weight, bias!);
        return y.view([.. outer, weight.size(0)]);
    }
}
