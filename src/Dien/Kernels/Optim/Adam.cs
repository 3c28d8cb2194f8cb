using System.Numerics;
using Dien.Kernels.Primitives;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Dien.Kernels.Optim;

/// <summary>
/// TorchSharp's Adam with its update done in one C# pass per parameter instead of about seven libtorch
/// operations, each with a fixed cost on CPU whatever its size, which dominates for DIEN's ~30 small parameter
/// tensors (figures in docs/performance.md). Same algorithm, options and state as TorchSharp's Adam
/// (L2 weight decay added to the gradient, bias-corrected moments), kept in the base class's state, so
/// checkpoints written and read through <c>save_state_dict</c> / <c>load_state_dict</c> are unchanged.
/// </summary>
/// <remarks>
/// Named <c>Adam</c> on purpose: TorchSharp records the optimizer's type name in saved state and refuses
/// another on load, so this name keeps checkpoints interchangeable with <see cref="TorchSharp.Modules.Adam"/>'s.
/// <para/>
/// The fused pass runs when every parameter with a gradient is a contiguous float32 CPU tensor and the group
/// uses neither AMSGrad nor maximize; otherwise (or with a closure) the step is TorchSharp's own.
/// Results agree with TorchSharp's Adam to float32 rounding (the order of operations differs slightly).
/// The update writes the parameters' memory directly, without bumping autograd's version counter: like any
/// optimizer step it belongs after a backward pass, never between a forward pass and its backward.
/// </remarks>
internal sealed class Adam : TorchSharp.Modules.Adam
{
    /// <summary>Creates the optimizer over one parameter group.</summary>
    public Adam(IEnumerable<Parameter> parameters, double learningRate, double weightDecay = 0)
        : base(parameters, learningRate, weight_decay: weightDecay)
    {
    }

    /// <summary>
    /// Sets every parameter's gradient to none instead of filling it with zeros, as PyTorch's optimizers do by default
    /// since 2.0: the next backward then hands each parameter its gradient, where it would have added it to zeros. The
    /// fill of DIEN's ~30 gradients took 0.16 ms of W's 12 ms step on the training thread, 0.04-0.08 ms after
    /// (docs/performance.md).
    /// </summary>
    /// <remarks>
    /// A parameter that gets no gradient in a step keeps none, and <see cref="step"/> leaves it and its moments as they
    /// are, as PyTorch's Adam does; with a zero-filled gradient it would have moved by its decaying moments. In DIEN's
    /// training steps every parameter in use gets a gradient every step, so the updates are those of before, to the bit.
    /// </remarks>
    public override void zero_grad()
    {
        foreach (var group in _parameter_groups)
        {
            foreach (var parameter in group.Parameters)
            {
                parameter.grad = null;
            }
        }
    }

    /// <inheritdoc />
    public override Tensor step(Func<Tensor>? closure = null)
    {
        if (closure is not null)
        {
            return base.step(closure);
        }

        // One walk reads each gradient once (every read is a native call and a new handle) and checks it can fuse.
        var updates = new List<(Parameter Parameter, Tensor Grad, State State, Options Options)>();
        try
        {
            foreach (var group in _parameter_groups)
            {
                var o = (Options)group.Options;
                if (o.amsgrad == true || o.maximize == true)
                {
                    return Unfused();
                }

                foreach (var parameter in group.Parameters)
                {
                    var grad = parameter.grad;
                    if (grad is null)
                    {
                        continue;
                    }

                    var state = (State)_state[parameter.Handle];
                    updates.Add((parameter, grad, state, o));
                    if (!IsPlainFloat(parameter) || !IsPlainFloat(grad) || !IsPlainFloat(state.exp_avg) || !IsPlainFloat(state.exp_avg_sq)
                        || grad.numel() != parameter.numel())
                    {
                        return Unfused();
                    }
                }
            }

            foreach (var (parameter, grad, state, o) in updates)
            {
                state.step++;
                Update(parameter, grad, state, o.LearningRate!.Value, o.beta1!.Value, o.beta2!.Value, o.eps!.Value, o.weight_decay!.Value);
            }

            return null!;
        }
        finally
        {
            // The handles only: each parameter keeps its gradient.
            foreach (var update in updates)
            {
                update.Grad.Dispose();
            }
        }

        Tensor Unfused() => base.step(closure);
    }

    private static bool IsPlainFloat(Tensor t) => t.device_type == DeviceType.CPU && t.dtype == ScalarType.Float32 && t.is_contiguous();

    /// <summary>
    /// g' = g + wd p; m = b1 m + (1 - b1) g'; v = b2 v + (1 - b2) g'^2;
    /// p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    /// </summary>
    private static unsafe void Update(Tensor parameter, Tensor grad, State state, double learningRate, double beta1, double beta2, double eps, double weightDecay)
    {
        long n = parameter.numel();
        float* p = TensorMemory.Pointer<float>(parameter), g = TensorMemory.Pointer<float>(grad);
        float* m = TensorMemory.Pointer<float>(state.exp_avg), v = TensorMemory.Pointer<float>(state.exp_avg_sq);
        float b1 = (float)beta1, b2 = (float)beta2, c1 = (float)(1 - beta1), c2 = (float)(1 - beta2), wd = (float)weightDecay, e = (float)eps;
        float stepSize = (float)(learningRate / (1 - Math.Pow(beta1, state.step)));
        float correction2 = (float)Math.Sqrt(1 - Math.Pow(beta2, state.step));
        int lanes = Vector<float>.Count;
        long i = 0;
        if (n >= lanes)
        {
            var vb1 = new Vector<float>(b1);
            var vb2 = new Vector<float>(b2);
            var vc1 = new Vector<float>(c1);
            var vc2 = new Vector<float>(c2);
            var vwd = new Vector<float>(wd);
            var ve = new Vector<float>(e);
            var vstep = new Vector<float>(stepSize);
            var vcorr = new Vector<float>(correction2);
            for (; i <= n - lanes; i += lanes)
            {
                var pi = VectorOps<float>.Load(p + i);
                var gi = VectorOps<float>.Load(g + i) + (vwd * pi);
                var mi = (vb1 * VectorOps<float>.Load(m + i)) + (vc1 * gi);
                var vi = (vb2 * VectorOps<float>.Load(v + i)) + (vc2 * gi * gi);
                VectorOps<float>.Store(m + i, mi);
                VectorOps<float>.Store(v + i, vi);
                VectorOps<float>.Store(p + i, pi - (vstep * mi / ((Vector.SquareRoot(vi) / vcorr) + ve)));
            }
        }

        for (; i < n; i++)
        {
            float gi = g[i] + (wd * p[i]);
            m[i] = (b1 * m[i]) + (c1 * gi);
            v[i] = (b2 * v[i]) + (c2 * gi * gi);
            p[i] -= stepSize * m[i] / ((MathF.Sqrt(v[i]) / correction2) + e);
        }
    }
}
