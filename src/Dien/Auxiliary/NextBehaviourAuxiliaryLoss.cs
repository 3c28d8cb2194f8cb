using Dien.Kernels.NextBehaviour;
using Dien.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Dien.Auxiliary;

/// <summary>
/// The paper's auxiliary loss (of its interest extractor layer): each extractor state h_t must tell the next real
/// behaviour e_{t+1} from a sampled negative e'_{t+1}.
/// L_aux = -(1/N) * sum over valid (b, t) of [log s(h_t, e_{t+1}) + log(1 - s(h_t, e'_{t+1}))],
/// t = 0 .. L_b - 2, N the number of such pairs. Padded steps contribute nothing.
/// </summary>
/// <remarks>
/// Scorer <see cref="AuxiliaryScorer.Mlp"/>: an MLP on [h_t ; e] with sigmoid hidden layers
/// (<c>layers.0</c>, <c>layers.1</c>, ... then <c>output</c>), as in the authors' code;
/// <see cref="AuxiliaryScorer.InnerProduct"/>: f = h_t . e, no parameters.
/// </remarks>
internal sealed class NextBehaviourAuxiliaryLoss : nn.Module<Tensor, Tensor, Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "layers")]
    private readonly ModuleList<Linear> _layers;
    [ComponentName(Name = "output")]
    private readonly Linear? _output;
    private readonly int _hiddenSize;
    private readonly int _behaviourSize;

    /// <summary>Creates the loss.</summary>
    /// <param name="hiddenSize">Width H of the extractor states.</param>
    /// <param name="behaviourSize">Width E of a behaviour.</param>
    /// <param name="scorer">The scorer f.</param>
    /// <param name="hiddenSizes">Hidden layers of the MLP scorer (ignored by the inner product).</param>
    /// <param name="useFusedKernels">Run the MLP scorer as the fused CPU kernel when the input is on CPU.</param>
    /// <exception cref="ArgumentException">The inner product needs <paramref name="hiddenSize"/> = <paramref name="behaviourSize"/>.</exception>
    public NextBehaviourAuxiliaryLoss(int hiddenSize, int behaviourSize, AuxiliaryScorer scorer, IList<int> hiddenSizes, bool useFusedKernels = true)
        : base(nameof(NextBehaviourAuxiliaryLoss))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hiddenSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(behaviourSize);
        ArgumentNullException.ThrowIfNull(hiddenSizes);
        if (!Enum.IsDefined(scorer))
        {
            throw new ArgumentOutOfRangeException(nameof(scorer), scorer, "Not a defined auxiliary scorer.");
        }

        Scorer = scorer;
        UseFusedKernels = useFusedKernels;
        _hiddenSize = hiddenSize;
        _behaviourSize = behaviourSize;
        if (scorer == AuxiliaryScorer.InnerProduct)
        {
            if (hiddenSize != behaviourSize)
            {
                throw new ArgumentException(
                    $"The inner-product scorer needs hiddenSize = behaviourSize, got hiddenSize = {hiddenSize} and behaviourSize = {behaviourSize}.", nameof(hiddenSize));
            }

            _layers = nn.ModuleList<Linear>();
        }
        else
        {
            var widths = new List<int> { hiddenSize + behaviourSize };
            widths.AddRange(hiddenSizes);
            _layers = nn.ModuleList(Enumerable.Range(0, widths.Count - 1).Select(i => nn.Linear(widths[i], widths[i + 1])).ToArray());
            _output = nn.Linear(widths[^1], 1);
        }

        RegisterComponents();
    }

    /// <summary>The scorer in use.</summary>
    public AuxiliaryScorer Scorer { get; }

    /// <summary>
    /// Whether the MLP scorer runs as the fused CPU kernel when it can; false forces the libtorch composition,
    /// the reference the kernel is tested against.
    /// </summary>
    public bool UseFusedKernels { get; set; }

    /// <summary>Computes L_aux.</summary>
    /// <param name="states">Extractor states h_t, [B, T, H].</param>
    /// <param name="behaviours">Real behaviours e_t, [B, T, E].</param>
    /// <param name="negatives">Sampled negatives, [B, T, E]: slot t is the negative for the behaviour at t.</param>
    /// <param name="mask">True at valid positions, bool [B, T].</param>
    /// <returns>A scalar; zero (with a graph) when no row has two valid behaviours.</returns>
    /// <exception cref="ArgumentException">A shape does not fit; the message names the tensor.</exception>
    public override Tensor forward(Tensor states, Tensor behaviours, Tensor negatives, Tensor mask)
    {
        Guard.Shape(states, new[] { Guard.Any, Guard.Any, (long)_hiddenSize });
        Guard.Shape(behaviours, new[] { states.size(0), states.size(1), (long)_behaviourSize });
        Guard.Mask(mask, states.size(0), states.size(1));
        Guard.SameShape(negatives, behaviours);
        using var scope = NewDisposeScope();
        if (Fused(states))
        {
            var (weights, biases) = ScorerParameters();
            return FusedNextBehaviourLoss.Compute(states, behaviours, negatives, mask, weights, biases).MoveToOuterDisposeScope();
        }

        long steps = states.size(1);
        if (steps < 2)
        {
            return (states.sum() * HeldScalars.Zero).MoveToOuterDisposeScope();
        }

        // Pair (h_t, e_{t+1}) counts when both positions are valid. Every pair of the padded width is
        // scored (slices, no gather) and the padded ones are weighted by exactly 0: with length-bucketed
        // batches the padding is small, and this avoids a gather whose backward is a slow scatter.
        var h = states.narrow(1, 0, steps - 1);
        var pairs = mask.narrow(1, 0, steps - 1).logical_and(mask.narrow(1, 1, steps - 1)).to_type(states.dtype);
        var logits = Scores(h, torch.stack(new[] { behaviours.narrow(1, 1, steps - 1), negatives.narrow(1, 1, steps - 1) }));

        // -log s(f) = softplus(-f) for the real behaviour and -log(1 - s(f)) = softplus(f) for the negative:
        // one softplus over both, stable for any logit.
        var sign = torch.tensor(new[] { -1.0, 1.0 }, dtype: logits.dtype, device: logits.device).view(2, 1, 1);
        var loss = nn.functional.softplus(logits * sign) * pairs;
        return (loss.sum() / pairs.sum().clamp_min(HeldScalars.One)).MoveToOuterDisposeScope();
    }

    /// <summary>Whether <see cref="ComputePacked"/> can take these states: the fused kernel runs for them.</summary>
    /// <param name="states">Extractor states h_t, packed [N, H] or padded [B, T, H].</param>
    internal bool ReadsPacked(Tensor states) => Fused(states);

    /// <summary>
    /// Computes L_aux from behaviours and negatives packed (the valid positions row after row): the fused kernel
    /// reads them as they are, so padding costs neither memory nor gradient traffic.
    /// </summary>
    /// <param name="states">Extractor states h_t, [B, T, H], or packed like the behaviours, [N, H].</param>
    /// <param name="behaviours">e_t at the N valid positions of <paramref name="mask"/>, [N, E].</param>
    /// <param name="negatives">e'_t at the same positions, [N, E].</param>
    /// <param name="mask">True at valid positions, bool [B, T].</param>
    /// <returns>A scalar; zero (with a graph) when no row has two valid behaviours.</returns>
    /// <exception cref="ArgumentException">A shape does not fit, or the fused kernel cannot take the states (<see cref="ReadsPacked"/>).</exception>
    internal Tensor ComputePacked(Tensor states, Tensor behaviours, Tensor negatives, Tensor mask)
    {
        CheckPacked(states, behaviours, negatives, mask);
        using var scope = NewDisposeScope();
        var (weights, biases) = ScorerParameters();
        return FusedNextBehaviourLoss.Compute(states, behaviours, negatives, mask, weights, biases).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Starts <see cref="ComputePacked"/>'s kernel on helper threads and returns at once, so that the caller can score
    /// the target meanwhile; <see cref="FusedNextBehaviourLoss.Prepared.Finish"/> then returns the same loss.
    /// </summary>
    /// <remarks>
    /// The tensors it prepares belong to the caller's dispose scope, and the caller must finish (or wait for) the
    /// kernel on every path before that scope ends.
    /// </remarks>
    internal FusedNextBehaviourLoss.Prepared BeginPacked(Tensor states, Tensor behaviours, Tensor negatives, Tensor mask)
    {
        CheckPacked(states, behaviours, negatives, mask);
        var (weights, biases) = ScorerParameters();
        return FusedNextBehaviourLoss.Begin(states, behaviours, negatives, mask, weights, biases);
    }

    private void CheckPacked(Tensor states, Tensor behaviours, Tensor negatives, Tensor mask)
    {
        Guard.PackedRoute(Fused(behaviours), behaviours, UseFusedKernels);
        Guard.Mask(mask, Guard.Any, Guard.Any);
        Guard.Shape(behaviours, new[] { Guard.Any, (long)_behaviourSize });
        Guard.Shape(states, states.dim() == 2 ? new[] { behaviours.size(0), (long)_hiddenSize } : new[] { mask.size(0), mask.size(1), (long)_hiddenSize });
        Guard.SameShape(negatives, behaviours);
    }

    private bool Fused(Tensor states)
        => UseFusedKernels && _output?.bias is not null && _layers.All(l => l.bias is not null) && FusedNextBehaviourLoss.Supports(states);

    private (List<Tensor> Weights, List<Tensor> Biases) ScorerParameters()
    {
        var linear = _layers.Append(_output!).ToList();
        return (linear.Select(l => (Tensor)l.weight!).ToList(), linear.Select(l => (Tensor)l.bias!).ToList());
    }

    /// <summary>The logits f(h_t, e) of the real (index 0) and the sampled (index 1) behaviours, [2, B, T - 1].</summary>
    /// <param name="h">States h_t, [B, T - 1, H].</param>
    /// <param name="candidates">The next real behaviour and its negative, stacked: [2, B, T - 1, E].</param>
    private Tensor Scores(Tensor h, Tensor candidates)
    {
        if (_output is null)
        {
            return (h * candidates).sum(-1);
        }

        // The first layer on [h ; e] is W_h h + W_e e + b: its state part is computed once and added to both
        // behaviours by broadcasting, and their behaviour part is one product over the stacked pair.
        var first = _layers.Count > 0 ? _layers[0] : _output;
        var stateWeight = first.weight!.narrow(1, 0, _hiddenSize);
        var behaviourWeight = first.weight!.narrow(1, _hiddenSize, _behaviourSize);
        var x = nn.functional.linear(candidates, behaviourWeight).Plus(nn.functional.linear(h, stateWeight, first.bias));
        if (_layers.Count > 0)
        {
            x = torch.sigmoid(x);
            for (int i = 1; i < _layers.Count; i++)
            {
                x = torch.sigmoid(_layers[i].call(x));
            }

            x = _output.call(x);
        }

        return x.squeeze(-1);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _layers.Dispose();
            _output?.Dispose();
        }

        base.Dispose(disposing);
    }
}
