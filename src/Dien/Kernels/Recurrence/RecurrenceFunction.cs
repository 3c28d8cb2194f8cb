using System.Numerics;
using Dien.Kernels.Primitives;
using Dien.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.Recurrence;

/// <summary>
/// The autograd node of a fused recurrence: forward runs <see cref="RecurrenceKernel{T}.Forward"/> and
/// saves the gates of every step; backward runs the hand-written BPTT kernel. Arguments, in order:
/// inputProjection, attention (or null), weightHh, biasHh (or null), <see cref="RecurrenceSpec"/>.
/// </summary>
/// <remarks>Stateless: libtorch keeps one instance; per-call state travels in the context.</remarks>
internal sealed class RecurrenceFunction : torch.autograd.SingleTensorFunction<RecurrenceFunction>
{
    private const string SpecKey = "spec";
    private const string HasBiasKey = "hasBias";

    /// <inheritdoc/>
    public override string Name => nameof(RecurrenceFunction);

    /// <summary>Forward without building a graph node (nothing needs a gradient): nothing is saved.</summary>
    public static Tensor Inference(RecurrenceSpec spec, Tensor inputProjection, Tensor? attention, Tensor weightHh, Tensor? biasHh)
    {
        using var scope = NewDisposeScope();
        var (output, _, _) = RunForward(spec, inputProjection, attention, weightHh, biasHh, save: false);
        return output.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        StepTimeline.Mark("RecurrenceFunction.forward: in");
        var spec = (RecurrenceSpec)vars[4];
        var attention = vars[1] as Tensor;
        var weightHh = (Tensor)vars[2];
        var (output, states, gates) = RunForward(spec, (Tensor)vars[0], attention, weightHh, vars[3] as Tensor, save: true);
        ctx.save_for_backward([weightHh, attention!, states!, gates!]);
        ctx.save_data(SpecKey, spec);
        ctx.save_data(HasBiasKey, vars[3] is Tensor);
        StepTimeline.Mark("RecurrenceFunction.forward: out");
        return output;
    }

    /// <inheritdoc/>
    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor grad_output)
    {
        StepTimeline.Mark("RecurrenceFunction.backward: in");
        var spec = (RecurrenceSpec)ctx.get_data(SpecKey);
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        Tensor weightHh = saved[0].contiguous(), states = saved[2], gates = saved[3];
        Tensor? attention = saved[1] is { IsInvalid: false } a ? a.contiguous() : null;
        var grad = grad_output.contiguous();

        var dX = spec.Packed ? empty(spec.ValidPositions, 3 * spec.Hidden, dtype: spec.DType) : empty(spec.Batch, spec.Steps, 3 * spec.Hidden, dtype: spec.DType);
        var dA = attention is null ? null : empty(spec.Batch, spec.Steps, dtype: spec.DType);
        var dW = empty(3 * spec.Hidden, spec.Hidden, dtype: spec.DType);
        var dB = empty(3 * spec.Hidden, dtype: spec.DType);
        if (spec.DType == ScalarType.Float32)
        {
            Backward<float>(spec, grad, attention, weightHh, states, gates, dX, dA, dW, dB);
        }
        else
        {
            Backward<double>(spec, grad, attention, weightHh, states, gates, dX, dA, dW, dB);
        }

        // A null input (no attention, no bias) must get a null gradient.
        bool hasBias = (bool)ctx.get_data(HasBiasKey);
        StepTimeline.Mark("RecurrenceFunction.backward: out");
        return [dX.MoveToOuterDisposeScope(), dA?.MoveToOuterDisposeScope()!, dW.MoveToOuterDisposeScope(), hasBias ? dB.MoveToOuterDisposeScope() : null!, null!];
    }

    private static (Tensor Output, Tensor? States, Tensor? Gates) RunForward(RecurrenceSpec spec, Tensor inputProjection, Tensor? attention, Tensor weightHh, Tensor? biasHh, bool save)
    {
        var x = inputProjection.detach().contiguous();
        var w = weightHh.detach().contiguous();
        var bias = biasHh?.detach().contiguous();
        var att = attention?.detach().contiguous();
        int gateStride = spec.DType == ScalarType.Float32 ? RecurrenceKernel<float>.GateStride(spec.Hidden) : RecurrenceKernel<double>.GateStride(spec.Hidden);

        bool allStates = spec.Output != RecurrentOutput.FinalState;
        // Backward reads every state, so they are kept whenever the gates are; packed, they take the valid rows only.
        long[] rows = spec.PackedStates ? [spec.ValidPositions] : [spec.Batch, spec.Steps];
        var states = allStates || save ? empty([.. rows, spec.Hidden], dtype: spec.DType) : null;
        var final = allStates ? null : empty(spec.Batch, spec.Hidden, dtype: spec.DType);
        var gates = save ? empty([.. rows, gateStride], dtype: spec.DType) : null;
        if (spec.DType == ScalarType.Float32)
        {
            Forward<float>(spec, x, att, w, bias, states, final, gates);
        }
        else
        {
            Forward<double>(spec, x, att, w, bias, states, final, gates);
        }

        return (allStates ? states! : final!, states, gates);
    }

    private static unsafe void Forward<T>(RecurrenceSpec spec, Tensor x, Tensor? attention, Tensor w, Tensor? bias, Tensor? states, Tensor? final, Tensor? gates)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        RecurrenceKernel<T>.Forward(
            spec.Cell, spec.Batch, spec.Steps, spec.Hidden, spec.Packed, spec.PackedStates,
            TensorMemory.Pointer<T>(x), TensorMemory.Pointer<T>(attention), TensorMemory.Pointer<T>(w), TensorMemory.Pointer<T>(bias), spec.Lengths,
            TensorMemory.Pointer<T>(states), TensorMemory.Pointer<T>(final), TensorMemory.Pointer<T>(gates), KernelWorkers.Count, spec.InputRows);
    }

    private static unsafe void Backward<T>(RecurrenceSpec spec, Tensor grad, Tensor? attention, Tensor w, Tensor states, Tensor gates, Tensor dX, Tensor? dA, Tensor dW, Tensor dB)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool allStates = spec.Output != RecurrentOutput.FinalState;
        T* g = TensorMemory.Pointer<T>(grad);
        RecurrenceKernel<T>.Backward(
            spec.Cell, spec.Batch, spec.Steps, spec.Hidden, spec.Packed, spec.PackedStates,
            allStates ? g : null, allStates ? null : g, TensorMemory.Pointer<T>(attention), TensorMemory.Pointer<T>(w), spec.Lengths,
            TensorMemory.Pointer<T>(states), TensorMemory.Pointer<T>(gates),
            TensorMemory.Pointer<T>(dX), TensorMemory.Pointer<T>(dA), TensorMemory.Pointer<T>(dW), TensorMemory.Pointer<T>(dB), KernelWorkers.Count);
    }
}
