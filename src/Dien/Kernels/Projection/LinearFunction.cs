using System.Numerics;
using Dien.Kernels.Primitives;
using Dien.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.Projection;

/// <summary>The autograd node: forward and backward on <see cref="LinearKernel{T}"/>. Arguments: x [N, K], W [O, K], b [O] or null.</summary>
internal sealed class LinearFunction : torch.autograd.SingleTensorFunction<LinearFunction>
{
    private const string HasBiasKey = "hasBias";

    /// <inheritdoc/>
    public override string Name => nameof(LinearFunction);

    /// <inheritdoc/>
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        StepTimeline.Mark("LinearFunction.forward: in");
        var x = ((Tensor)vars[0]).detach().contiguous();
        var w = ((Tensor)vars[1]).detach().contiguous();
        var b = (vars[2] as Tensor)?.detach().contiguous();
        int n = (int)x.size(0), k = (int)x.size(1), o = (int)w.size(0);
        var y = empty(new long[] { n, o }, dtype: x.dtype);
        if (x.dtype == ScalarType.Float32)
        {
            Forward<float>(x, w, b, y, n, k, o);
        }
        else
        {
            Forward<double>(x, w, b, y, n, k, o);
        }

        ctx.save_for_backward([x, w]);
        ctx.save_data(HasBiasKey, b is not null);
        StepTimeline.Mark("LinearFunction.forward: out");
        return y;
    }

    /// <inheritdoc/>
    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor grad_output)
    {
        StepTimeline.Mark("LinearFunction.backward: in");
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        Tensor x = saved[0], w = saved[1];
        var dy = grad_output.contiguous();
        int n = (int)x.size(0), k = (int)x.size(1), o = (int)w.size(0);
        bool hasBias = (bool)ctx.get_data(HasBiasKey);
        var dx = empty(new long[] { n, k }, dtype: x.dtype);
        var dw = empty(new long[] { o, k }, dtype: x.dtype);
        var db = hasBias ? empty(new long[] { o }, dtype: x.dtype) : null;
        if (x.dtype == ScalarType.Float32)
        {
            Backward<float>(x, w, dy, dx, dw, db, n, k, o);
        }
        else
        {
            Backward<double>(x, w, dy, dx, dw, db, n, k, o);
        }

        StepTimeline.Mark("LinearFunction.backward: out");
        return [dx.MoveToOuterDisposeScope(), dw.MoveToOuterDisposeScope(), db?.MoveToOuterDisposeScope()!];
    }

    private static unsafe void Forward<T>(Tensor x, Tensor w, Tensor? b, Tensor y, int n, int k, int o)
        where T : unmanaged, IFloatingPointIeee754<T>
        => LinearKernel<T>.Forward(TensorMemory.Pointer<T>(x), TensorMemory.Pointer<T>(w), TensorMemory.Pointer<T>(b), TensorMemory.Pointer<T>(y), n, k, o, KernelWorkers.Count);

    private static unsafe void Backward<T>(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor? db, int n, int k, int o)
        where T : unmanaged, IFloatingPointIeee754<T>
        => LinearKernel<T>.Backward(
            TensorMemory.Pointer<T>(x), TensorMemory.Pointer<T>(w), TensorMemory.Pointer<T>(dy),
            TensorMemory.Pointer<T>(dx), TensorMemory.Pointer<T>(dw), TensorMemory.Pointer<T>(db), n, k, o, KernelWorkers.Count);
}
