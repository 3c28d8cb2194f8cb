using System.Numerics;
using Dien.Kernels.Primitives;
using Dien.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.Lookup;

/// <summary>
/// The autograd node of <see cref="FusedLookup"/>. Arguments, in order: the J tables [V_j, D_j], the J id vectors
/// (int64 [N], checked), then J itself. The tables' gradients are dense, as <c>nn.Embedding</c>'s.
/// </summary>
/// <remarks>Stateless: libtorch keeps one instance; per-call state travels in the context.</remarks>
internal sealed class LookupFunction : torch.autograd.SingleTensorFunction<LookupFunction>
{
    private const string ShapesKey = "shapes";

    /// <inheritdoc/>
    public override string Name => nameof(LookupFunction);

    /// <summary>Forward without building a graph node.</summary>
    public static Tensor Inference(IReadOnlyList<Tensor> tables, IReadOnlyList<Tensor> ids)
    {
        using var scope = NewDisposeScope();
        return Run(tables.Select(TensorMemory.Readable).ToArray(), ids.ToArray()).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        int count = (int)vars[^1];
        var tables = vars.Take(count).Select(v => ((Tensor)v).detach().contiguous()).ToArray();
        var ids = vars.Skip(count).Take(count).Cast<Tensor>().ToArray();
        ctx.save_for_backward([.. ids]);
        ctx.save_data(ShapesKey, tables.Select(t => (t.size(0), (int)t.size(1))).ToArray());
        return Run(tables, ids);
    }

    /// <inheritdoc/>
    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor grad_output)
    {
        StepTimeline.Mark("LookupFunction.backward: in");
        using var scope = NewDisposeScope();
        var ids = ctx.get_saved_variables().ToArray();
        var shapes = ((long Rows, int Width)[])ctx.get_data(ShapesKey);
        var grad = grad_output.contiguous();
        int[] widths = shapes.Select(s => s.Width).ToArray();
        var gradTables = shapes.Select(s => zeros(new[] { s.Rows, (long)s.Width }, dtype: grad.dtype)).ToArray();
        if (grad.dtype == ScalarType.Float32)
        {
            Backward<float>(grad, widths, ids, gradTables);
        }
        else
        {
            Backward<double>(grad, widths, ids, gradTables);
        }

        // The ids and the count get no gradient.
        var result = new List<Tensor>(gradTables.Select(g => g.MoveToOuterDisposeScope()));
        result.AddRange(Enumerable.Repeat<Tensor>(null!, ids.Length + 1));
        StepTimeline.Mark("LookupFunction.backward: out");
        return result;
    }

    private static Tensor Run(Tensor[] tables, Tensor[] ids)
    {
        int[] widths = tables.Select(t => (int)t.size(1)).ToArray();
        int n = (int)ids[0].size(0);
        var output = empty(new long[] { n, widths.Sum() }, dtype: tables[0].dtype);
        if (output.dtype == ScalarType.Float32)
        {
            Forward<float>(tables, widths, ids, n, output);
        }
        else
        {
            Forward<double>(tables, widths, ids, n, output);
        }

        return output;
    }

    private static unsafe void Forward<T>(Tensor[] tables, int[] widths, Tensor[] ids, int n, Tensor output)
        where T : unmanaged, IFloatingPointIeee754<T>
        => LookupKernel<T>.Forward(TensorMemory.Addresses<T>(tables), widths, TensorMemory.Addresses<long>(ids), n, TensorMemory.Pointer<T>(output));

    private static unsafe void Backward<T>(Tensor grad, int[] widths, Tensor[] ids, Tensor[] gradTables)
        where T : unmanaged, IFloatingPointIeee754<T>
        => LookupKernel<T>.Backward(TensorMemory.Pointer<T>(grad), widths, TensorMemory.Addresses<long>(ids), (int)grad.size(0), TensorMemory.Addresses<T>(gradTables));
}
