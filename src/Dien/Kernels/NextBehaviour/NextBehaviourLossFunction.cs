using System.Numerics;
using Dien.Kernels.Primitives;
using Dien.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.NextBehaviour;

/// <summary>
/// The autograd node of the fused next-behaviour loss. The kernel (<see cref="NextBehaviourLossKernel{T}"/>)
/// returns the gradients with the value and runs before the node is built; forward hands its value on,
/// backward scales its gradients by the incoming gradient.
/// Arguments, in order: states, behaviours, negatives, mask, the weight and bias of each scorer layer, then
/// the <see cref="FusedNextBehaviourLoss.Prepared"/> call that holds the results.
/// </summary>
/// <remarks>Stateless: libtorch keeps one instance; per-call state travels in the context.</remarks>
internal sealed class NextBehaviourLossFunction : torch.autograd.SingleTensorFunction<NextBehaviourLossFunction>
{
    private const string PreparedKey = "prepared";

    /// <inheritdoc/>
    public override string Name => nameof(NextBehaviourLossFunction);

    /// <inheritdoc/>
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        // The kernel has already run (FusedNextBehaviourLoss.Prepared); this node only carries its results.
        var prepared = (FusedNextBehaviourLoss.Prepared)vars[^1];
        ctx.save_for_backward(prepared.Gradients!.ToList());
        ctx.save_data(PreparedKey, prepared);
        return prepared.Loss;
    }

    /// <inheritdoc/>
    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor grad_output)
    {
        StepTimeline.Mark("NextBehaviourLossFunction.backward: in");
        // Started with FinishInBackward, the kernel may still be running: its gradients are ready after this (a no-op
        // when the forward waited).
        ((FusedNextBehaviourLoss.Prepared)ctx.get_data(PreparedKey)).Complete();
        StepTimeline.Mark("NextBehaviourLossFunction.backward: joined");
        var saved = ctx.get_saved_variables();

        // An incoming gradient of exactly 1 (alpha 1, the default) leaves the gradients as they are, and they are returned
        // without a copy: autograd adds into a returned gradient in place, or keeps it as a parameter's .grad, only
        // when nothing else holds it, and while a graph is retained its saved variables hold it. Any other factor
        // makes new tensors.
        var scaled = grad_output.ToDouble() == 1 ? saved : saved.Select(g => g.mul(grad_output)).ToList();
        var result = new List<Tensor> { scaled[0], scaled[1], scaled[2], null! };
        result.AddRange(scaled.Skip(3));
        result.Add(null!);
        StepTimeline.Mark("NextBehaviourLossFunction.backward: out");
        return result;
    }

    /// <summary>Runs the kernel over prepared tensors: the loss into its scalar, the gradients (if any) into theirs.</summary>
    /// <remarks>
    /// Behaviours and negatives are [B, T, E], or packed [N, E] (the valid positions row after row) when 2-D; states are
    /// [B, T, H], or packed [N, H] when 2-D (with packed behaviours).
    /// </remarks>
    public static double Run(Tensor states, Tensor behaviours, Tensor negatives, Tensor mask, IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases, IReadOnlyList<Tensor>? gradients, int parallelism)
        => Start(states, behaviours, negatives, mask, weights, biases, gradients, parallelism, inBackground: false)();

    /// <summary>
    /// Starts the kernel as <see cref="Run"/> does, with <paramref name="inBackground"/> on helper threads while the caller
    /// goes on; the returned function waits for it and returns the loss. The tensors must stay alive until then.
    /// </summary>
    public static Func<double> Start(Tensor states, Tensor behaviours, Tensor negatives, Tensor mask, IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases, IReadOnlyList<Tensor>? gradients, int parallelism, bool inBackground)
        => states.dtype == ScalarType.Float32
            ? Kernel<float>(states, behaviours, negatives, mask, weights, biases, gradients, parallelism, inBackground)
            : Kernel<double>(states, behaviours, negatives, mask, weights, biases, gradients, parallelism, inBackground);

    private static unsafe Func<double> Kernel<T>(Tensor states, Tensor behaviours, Tensor negatives, Tensor mask, IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases, IReadOnlyList<Tensor>? gradients, int parallelism, bool inBackground)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var problem = new NextBehaviourLossKernel<T>.Problem
        {
            Batch = (int)mask.size(0), Steps = (int)mask.size(1), Hidden = (int)states.size(-1), Behaviour = (int)behaviours.size(-1),
            Packed = behaviours.dim() == 2, StatesPacked = states.dim() == 2, PackedRows = behaviours.size(0),
            States = TensorMemory.Pointer<T>(states), Behaviours = TensorMemory.Pointer<T>(behaviours), Negatives = TensorMemory.Pointer<T>(negatives),
            Mask = TensorMemory.Pointer<byte>(mask),
            Widths = weights.Select(t => (int)t.size(0)).ToArray(),
            Weights = weights.Select(t => (nint)TensorMemory.Pointer<T>(t)).ToArray(),
            Biases = biases.Select(t => (nint)TensorMemory.Pointer<T>(t)).ToArray(),
        };
        NextBehaviourLossKernel<T>.Gradients? target = gradients is null ? null : new NextBehaviourLossKernel<T>.Gradients
        {
            States = TensorMemory.Pointer<T>(gradients[0]), Behaviours = TensorMemory.Pointer<T>(gradients[1]), Negatives = TensorMemory.Pointer<T>(gradients[2]),
            Weights = Enumerable.Range(0, weights.Count).Select(j => (nint)TensorMemory.Pointer<T>(gradients[3 + (2 * j)])).ToArray(),
            Biases = Enumerable.Range(0, weights.Count).Select(j => (nint)TensorMemory.Pointer<T>(gradients[4 + (2 * j)])).ToArray(),
        };
        var pending = NextBehaviourLossKernel<T>.Start(problem, target, parallelism, inBackground);
        return () => pending.Finish(out _);
    }
}
