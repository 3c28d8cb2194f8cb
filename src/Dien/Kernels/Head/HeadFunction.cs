using System.Numerics;
using Dien.Kernels.Primitives;
using Dien.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.Head;

/// <summary>
/// The autograd node of <see cref="FusedHead"/>. Arguments, in order: the input x [B, K_0]; for each hidden layer its
/// weight [N_j, K_j], bias [N_j] and slopes [N_j]; the output layer's weight [O, K_L] and bias [O]; then the number
/// of hidden layers. Saved for the backward: the padded input and every layer's pre-activation and activation.
/// </summary>
/// <remarks>Stateless: libtorch keeps one instance; per-call state travels in the context.</remarks>
internal sealed class HeadFunction : torch.autograd.SingleTensorFunction<HeadFunction>
{
    private const string HiddenKey = "hidden";

    /// <inheritdoc/>
    public override string Name => nameof(HeadFunction);

    /// <inheritdoc/>
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        StepTimeline.Mark("HeadFunction.forward: in");
        int hidden = (int)vars[^1];
        var tensors = vars.Take(vars.Length - 1).Select(v => ((Tensor)v).detach().contiguous()).ToArray();
        var x = tensors[0];
        long rows = x.size(0);
        var widths = Enumerable.Range(0, hidden).Select(j => tensors[1 + (3 * j)].size(0)).ToArray();
        var inputPadded = empty(new[] { rows, (long)Pad(x, x.size(1)) }, dtype: x.dtype);
        var pre = widths.Select(n => empty(new[] { rows, (long)Pad(x, n) }, dtype: x.dtype)).ToArray();
        var post = widths.Select(n => empty(new[] { rows, (long)Pad(x, n) }, dtype: x.dtype)).ToArray();
        var logits = empty(new[] { rows, tensors[^2].size(0) }, dtype: x.dtype);
        if (x.dtype == ScalarType.Float32)
        {
            Forward<float>(tensors, hidden, inputPadded, pre, post, logits);
        }
        else
        {
            Forward<double>(tensors, hidden, inputPadded, pre, post, logits);
        }

        // The parameters (everything after x), then the padded input and the activations.
        ctx.save_for_backward([.. tensors.Skip(1), inputPadded, .. pre, .. post]);
        ctx.save_data(HiddenKey, hidden);
        StepTimeline.Mark("HeadFunction.forward: out");
        return logits;
    }

    /// <inheritdoc/>
    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor grad_output)
    {
        StepTimeline.Mark("HeadFunction.backward: in");
        using var scope = NewDisposeScope();
        int hidden = (int)ctx.get_data(HiddenKey);
        var saved = ctx.get_saved_variables();
        // The first layer's weight (a hidden layer's, or the output layer's without one) is [N, K_0].
        long input = saved[0].size(1);
        int parameters = (3 * hidden) + 2;
        var dLogits = grad_output.contiguous();
        var dx = empty(new[] { dLogits.size(0), input }, dtype: dLogits.dtype);
        var gradients = saved.Take(parameters).Select(p => empty_like(p)).ToArray();
        if (dLogits.dtype == ScalarType.Float32)
        {
            Backward<float>(saved, hidden, dLogits, dx, gradients);
        }
        else
        {
            Backward<double>(saved, hidden, dLogits, dx, gradients);
        }

        var result = new List<Tensor> { dx.MoveToOuterDisposeScope() };
        result.AddRange(gradients.Select(g => g.MoveToOuterDisposeScope()));
        result.Add(null!);
        StepTimeline.Mark("HeadFunction.backward: out");
        return result;
    }

    private static int Pad(Tensor like, long n) => like.dtype == ScalarType.Float32 ? VectorOps<float>.Pad((int)n) : VectorOps<double>.Pad((int)n);

    /// <summary>The kernel's view of the call: parameters [W_0, b_0, a_0, ..., W_out, b_out] and the saved activations.</summary>
    private static unsafe HeadKernel<T>.Layers Layers<T>(IReadOnlyList<Tensor> parameters, int hidden, long rows, Tensor inputPadded, Tensor[] pre, Tensor[] post)
        where T : unmanaged, IFloatingPointIeee754<T>
        => new()
        {
            Rows = (int)rows, Input = (int)parameters[0].size(1), Outputs = (int)parameters[3 * hidden].size(0),
            Hidden = Enumerable.Range(0, hidden).Select(j => (int)parameters[3 * j].size(0)).ToArray(),
            Weights = Enumerable.Range(0, hidden).Select(j => (nint)TensorMemory.Pointer<T>(parameters[3 * j])).ToArray(),
            Biases = Enumerable.Range(0, hidden).Select(j => (nint)TensorMemory.Pointer<T>(parameters[(3 * j) + 1])).ToArray(),
            Slopes = Enumerable.Range(0, hidden).Select(j => (nint)TensorMemory.Pointer<T>(parameters[(3 * j) + 2])).ToArray(),
            OutputWeight = TensorMemory.Pointer<T>(parameters[3 * hidden]), OutputBias = TensorMemory.Pointer<T>(parameters[(3 * hidden) + 1]),
            InputPadded = TensorMemory.Pointer<T>(inputPadded),
            PreActivations = TensorMemory.Addresses<T>(pre), Activations = TensorMemory.Addresses<T>(post),
        };

    private static unsafe void Forward<T>(Tensor[] tensors, int hidden, Tensor inputPadded, Tensor[] pre, Tensor[] post, Tensor logits)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x = tensors[0];
        var layers = Layers<T>(tensors[1..], hidden, x.size(0), inputPadded, pre, post);
        HeadKernel<T>.Forward(layers, TensorMemory.Pointer<T>(x), TensorMemory.Pointer<T>(logits));
    }

    private static unsafe void Backward<T>(IList<Tensor> saved, int hidden, Tensor dLogits, Tensor dx, Tensor[] gradients)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int parameters = (3 * hidden) + 2;
        var pre = saved.Skip(parameters + 1).Take(hidden).ToArray();
        var post = saved.Skip(parameters + 1 + hidden).Take(hidden).ToArray();
        var layers = Layers<T>(saved.Take(parameters).ToList(), hidden, dLogits.size(0), saved[parameters], pre, post);
        HeadKernel<T>.Backward(
            layers, TensorMemory.Pointer<T>(dLogits), TensorMemory.Pointer<T>(dx),
            Enumerable.Range(0, hidden).Select(j => (nint)TensorMemory.Pointer<T>(gradients[3 * j])).ToArray(),
            Enumerable.Range(0, hidden).Select(j => (nint)TensorMemory.Pointer<T>(gradients[(3 * j) + 1])).ToArray(),
            Enumerable.Range(0, hidden).Select(j => (nint)TensorMemory.Pointer<T>(gradients[(3 * j) + 2])).ToArray(),
            TensorMemory.Pointer<T>(gradients[3 * hidden]), TensorMemory.Pointer<T>(gradients[(3 * hidden) + 1]));
    }
}
