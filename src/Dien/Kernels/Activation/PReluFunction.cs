using System.Numerics;
using Dien.Kernels.Primitives;
using Dien.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.Activation;

/// <summary>The autograd node of <see cref="FusedPRelu"/>. Arguments: x [N, C], the slopes a [C].</summary>
/// <remarks>Stateless: libtorch keeps one instance; per-call state travels in the context.</remarks>
internal sealed class PReluFunction : torch.autograd.SingleTensorFunction<PReluFunction>
{
    /// <inheritdoc/>
    public override string Name => nameof(PReluFunction);

    /// <inheritdoc/>
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var x = ((Tensor)vars[0]).detach().contiguous();
        var a = ((Tensor)vars[1]).detach().contiguous();
        var y = empty_like(x);
        if (x.dtype == ScalarType.Float32)
        {
            Forward<float>(x, a, y);
        }
        else
        {
            Forward<double>(x, a, y);
        }

        ctx.save_for_backward([x, a]);
        return y;
    }

    /// <inheritdoc/>
    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor grad_output)
    {
        StepTimeline.Mark("PReluFunction.backward: in");
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        Tensor x = saved[0], a = saved[1];
        var g = grad_output.contiguous();
        var dx = empty_like(x);
        var da = empty_like(a);
        if (x.dtype == ScalarType.Float32)
        {
            Backward<float>(x, a, g, dx, da);
        }
        else
        {
            Backward<double>(x, a, g, dx, da);
        }

        StepTimeline.Mark("PReluFunction.backward: out");
        return [dx.MoveToOuterDisposeScope(), da.MoveToOuterDisposeScope()];
    }

    private static unsafe void Forward<T>(Tensor x, Tensor a, Tensor y)
        where T : unmanaged, IFloatingPointIeee754<T>
        => PReluKernel<T>.Forward(TensorMemory.Pointer<T>(x), TensorMemory.Pointer<T>(a), TensorMemory.Pointer<T>(y), (int)x.size(0), (int)x.size(1));

    private static unsafe void Backward<T>(Tensor x, Tensor a, Tensor g, Tensor dx, Tensor da)
        where T : unmanaged, IFloatingPointIeee754<T>
        => PReluKernel<T>.Backward(
            TensorMemory.Pointer<T>(x), TensorMemory.Pointer<T>(a), TensorMemory.Pointer<T>(g), TensorMemory.Pointer<T>(dx), TensorMemory.Pointer<T>(da),
            (int)x.size(0), (int)x.size(1));
}
