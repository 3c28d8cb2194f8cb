using Dien.Kernels.Primitives;
using Dien.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.NextBehaviour;

/// <summary>
/// The next-behaviour auxiliary loss with the MLP scorer as one fused CPU kernel
/// (<see cref="NextBehaviourLossKernel{T}"/>): the same value and gradients as the libtorch composition in
/// <c>NextBehaviourAuxiliaryLoss</c>, which stays the reference and the path on other devices.
/// </summary>
/// <remarks>
/// The scorer is a chain of linear layers with sigmoid between them, the first on [h_t ; e] (state columns
/// first), the last with one output. The gradients are computed with the value, so a forward under
/// gradient mode costs about as much as a forward and backward; under <c>no_grad</c> only the value is
/// computed. Second derivatives are not supported (the gradient is not itself differentiable).
/// </remarks>
internal static class FusedNextBehaviourLoss
{
    /// <summary>Whether the kernel can take these states (CPU, float32/float64).</summary>
    public static bool Supports(Tensor states)
        => states.device_type == DeviceType.CPU && (states.dtype == ScalarType.Float32 || states.dtype == ScalarType.Float64);

    /// <summary>
    /// L_aux = mean over valid pairs (t and t + 1 valid) of softplus(-f(h_t, e_{t+1})) + softplus(f(h_t, e'_{t+1})),
    /// 0 when there is no pair.
    /// </summary>
    /// <param name="states">h_t, [B, T, H]; or packed, [N, H], with packed behaviours.</param>
    /// <param name="behaviours">e_t, [B, T, E]; or packed, [N, E]: the N valid positions of <paramref name="mask"/> row after row.</param>
    /// <param name="negatives">e'_t, the same shape as <paramref name="behaviours"/>.</param>
    /// <param name="mask">Bool [B, T], true at valid positions.</param>
    /// <param name="weights">Weight of each scorer layer, [N_j, K_j]; K_0 = H + E, K_j = N_{j-1}, the last N = 1.</param>
    /// <param name="biases">Bias of each layer, [N_j].</param>
    /// <exception cref="ArgumentException">A device, dtype or shape does not fit; the message names the tensor.</exception>
    public static Tensor Compute(Tensor states, Tensor behaviours, Tensor negatives, Tensor mask, IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases)
    {
        var prepared = Prepare(states, behaviours, negatives, mask, weights, biases);
        prepared.Run(KernelWorkers.Count);
        return prepared.Finish();
    }

    /// <summary>
    /// Starts the loss of <see cref="Compute"/> on helper threads and returns at once, so that the caller can do other
    /// work on the remaining cores (<see cref="KernelWorkers.Start"/>); <see cref="Prepared.Finish"/> waits for it
    /// and returns the loss. The caller must call <see cref="Prepared.Finish"/> or <see cref="Prepared.Wait"/> before
    /// the tensors of its dispose scope are freed, on every path.
    /// </summary>
    public static Prepared Begin(Tensor states, Tensor behaviours, Tensor negatives, Tensor mask, IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases)
    {
        var prepared = Prepare(states, behaviours, negatives, mask, weights, biases);
        prepared.Start(KernelWorkers.Count);
        return prepared;
    }

    private static Prepared Prepare(Tensor states, Tensor behaviours, Tensor negatives, Tensor mask, IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases)
    {
        Validate(states, behaviours, negatives, mask, weights, biases);
        bool needsGrad = torch.is_grad_enabled()
            && (states.requires_grad || behaviours.requires_grad || negatives.requires_grad
                || weights.Any(w => w.requires_grad) || biases.Any(b => b.requires_grad));
        return new Prepared(states, behaviours, negatives, mask, weights, biases, needsGrad);
    }

    /// <summary>
    /// One call's tensors: contiguous detached inputs, the scalar loss and, with gradients, their zero-filled
    /// (inputs) or to-be-overwritten (weights) gradients. The kernel fills them in <see cref="Run"/>.
    /// </summary>
    internal sealed class Prepared
    {
        private readonly Tensor[] _inputs;
        private readonly IReadOnlyList<Tensor> _weights, _biases, _originalWeights, _originalBiases;
        private readonly Tensor _states, _behaviours, _negatives, _mask;
        private double _loss;
        private Func<double>? _pending;
        private Tensor[]? _owned;

        public Prepared(Tensor states, Tensor behaviours, Tensor negatives, Tensor mask, IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases, bool withGradients)
        {
            _inputs = [states, behaviours, negatives, mask];
            _originalWeights = weights;
            _originalBiases = biases;
            _states = states.detach().contiguous();
            _behaviours = behaviours.detach().contiguous();
            _negatives = negatives.detach().contiguous();
            _mask = mask.detach().contiguous();
            // The scorer's parameters are contiguous and outlive the call: the kernel reads them as they are, without
            // two native calls a tensor for a detached contiguous handle.
            _weights = weights.Select(TensorMemory.Readable).ToList();
            _biases = biases.Select(TensorMemory.Readable).ToList();
            if (withGradients)
            {
                // Not cleared here: the kernel writes every row, zeros where no pair is, on its own workers.
                var gradients = new List<Tensor> { empty_like(_states), empty_like(_behaviours), empty_like(_negatives) };
                gradients.AddRange(_weights.SelectMany((t, j) => new[] { empty_like(t), empty_like(_biases[j]) }));
                Gradients = gradients;
            }
        }

        /// <summary>The gradients of the loss (states, behaviours, negatives, then each layer's weight and bias), or null.</summary>
        public IReadOnlyList<Tensor>? Gradients { get; }

        /// <summary>The loss as a scalar tensor, valid after <see cref="Run"/>.</summary>
        public Tensor Loss { get; private set; } = null!;

        /// <summary>Runs the kernel over the tensors allocated in the constructor.</summary>
        public void Run(int parallelism)
            => _loss = NextBehaviourLossFunction.Run(_states, _behaviours, _negatives, _mask, _weights, _biases, Gradients, parallelism);

        /// <summary>Starts the kernel on helper threads (<see cref="Begin"/>); <see cref="Finish"/> or <see cref="Wait"/> waits for it.</summary>
        public void Start(int parallelism)
            => _pending = NextBehaviourLossFunction.Start(_states, _behaviours, _negatives, _mask, _weights, _biases, Gradients, parallelism, inBackground: true);

        /// <summary>Waits for a started kernel (<see cref="Start"/>), if any; afterwards its memory may be freed.</summary>
        /// <exception cref="AggregateException">The kernel threw.</exception>
        public void Wait()
        {
            if (_pending is { } pending)
            {
                _pending = null;
                _loss = pending();
            }
        }

        /// <summary>The loss, with its autograd node when there are gradients.</summary>
        public Tensor Finish()
        {
            Wait();
            Loss = torch.tensor(_loss, dtype: _states.dtype);
            return Gradients is null ? Loss : Node();
        }

        /// <summary>
        /// The loss's autograd node at once, before the kernel has finished: its backward waits for the kernel, so the
        /// kernel keeps running on its helpers through the rest of the forward and the backward's first nodes. The
        /// returned loss reads 0 until the caller writes what <see cref="Complete"/> returns into it. The node's backward
        /// calls <see cref="Complete"/>; the caller calls it too, on every path, before reading the loss. Needs gradients.
        /// </summary>
        /// <remarks>
        /// The tensors the kernel reads and writes leave the caller's dispose scope, which may end before the backward,
        /// and are freed by <see cref="Complete"/>.
        /// </remarks>
        public Tensor FinishInBackward()
        {
            if (Gradients is null)
            {
                throw new InvalidOperationException("The auxiliary loss has no gradients to wait for in the backward.");
            }

            _owned = [_states, _behaviours, _negatives, _mask, .. _weights.Where(Copied), .. _biases.Where(Copied), .. Gradients];
            foreach (var tensor in _owned)
            {
                tensor.DetachFromDisposeScope();
            }

            Loss = torch.zeros(Array.Empty<long>(), dtype: _states.dtype).DetachFromDisposeScope();
            return Node();
        }

        /// <summary>
        /// Waits for a started kernel (<see cref="Wait"/>) and, after <see cref="FinishInBackward"/>, frees the tensors it
        /// took from the caller's scope; returns the loss, which that caller writes into the tensor
        /// <see cref="FinishInBackward"/> returned. Later calls return it again.
        /// </summary>
        /// <exception cref="AggregateException">The kernel threw (its tensors are freed all the same).</exception>
        public double Complete()
        {
            var owned = _owned;
            _owned = null;
            try
            {
                Wait();
                return _loss;
            }
            finally
            {
                if (owned is not null)
                {
                    foreach (var tensor in owned)
                    {
                        tensor.Dispose();
                    }

                    Loss.Dispose();
                }
            }
        }

        // By reference: a tensor's Equals compares its values.
        private bool Copied(Tensor t) => !_originalWeights.Any(w => ReferenceEquals(w, t)) && !_originalBiases.Any(b => ReferenceEquals(b, t));

        private Tensor Node()
        {
            var vars = new List<object>(_inputs);
            for (int j = 0; j < _originalWeights.Count; j++)
            {
                vars.Add(_originalWeights[j]);
                vars.Add(_originalBiases[j]);
            }

            vars.Add(this);
            return NextBehaviourLossFunction.apply(vars.ToArray());
        }
    }

    private static void Validate(Tensor states, Tensor behaviours, Tensor negatives, Tensor mask, IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases)
    {
        if (!Supports(states))
        {
            throw new ArgumentException($"states are {states.dtype} on {states.device}: the fused loss takes Float32 or Float64 on CPU.", nameof(states));
        }

        Guard.Mask(mask, Guard.Any, Guard.Any, onCpu: true);
        if (behaviours.dim() == 2)
        {
            // Packed (the kernel checks N against the mask's valid positions); the states may be packed too.
            Guard.Shape(behaviours, new[] { Guard.Any, Guard.Any });
            if (states.dim() == 2)
            {
                Guard.Shape(states, new[] { behaviours.size(0), Guard.Any });
            }
            else
            {
                Guard.Shape(states, new[] { mask.size(0), mask.size(1), Guard.Any });
            }
        }
        else
        {
            Guard.Shape(states, new[] { mask.size(0), mask.size(1), Guard.Any });
            Guard.Shape(behaviours, new[] { mask.size(0), mask.size(1), Guard.Any });
        }

        Guard.SameShape(negatives, behaviours);
        Guard.That(states.numel() <= int.MaxValue && behaviours.numel() <= int.MaxValue,
            $"states {Guard.ShapeOf(states)} or behaviours {Guard.ShapeOf(behaviours)} exceed {int.MaxValue} elements, the fused kernel's limit.", nameof(states));
        Guard.CpuLike(behaviours, states.dtype, "the states");
        Guard.CpuLike(negatives, states.dtype, "the states");
        MlpStack.CheckLayers(weights, biases, states.size(-1) + behaviours.size(-1), states.dtype);
    }
}
