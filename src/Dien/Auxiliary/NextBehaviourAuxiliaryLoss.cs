using Dien.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Dien.Auxiliary;

/// <summary>
/// The paper's auxiliary loss (DESIGN.md section 3): each extractor state h_t must tell the next real
/// behaviour e_{t+1} from a sampled negative e'_{t+1}.
/// L_aux = -(1/N) * sum over valid (b, t) of [log s(h_t, e_{t+1}) + log(1 - s(h_t, e'_{t+1}))],
/// t = 0 .. L_b - 2, N the number of such pairs. Padded steps contribute nothing.
/// </summary>
/// <remarks>
/// Scorer <see cref="AuxiliaryScorer.Mlp"/>: an MLP on [h_t ; e] with sigmoid hidden layers
/// (<c>layers.0</c>, <c>layers.1</c>, ... then <c>output</c>), as in the authors' code;
/// <see cref="AuxiliaryScorer.InnerProduct"/>: f = h_t . e, no parameters.
/// </remarks>
public sealed class NextBehaviourAuxiliaryLoss : nn.Module<Tensor, Tensor, Tensor, Tensor, Tensor>
{
    private readonly ModuleList<Linear> layers;
    private readonly Linear? output;
    private readonly int _hiddenSize;
    private readonly int _behaviourSize;

    /// <summary>Creates the loss.</summary>
    /// <param name="hiddenSize">Width H of the extractor states.</param>
    /// <param name="behaviourSize">Width E of a behaviour.</param>
    /// <param name="scorer">The scorer f.</param>
    /// <param name="hiddenSizes">Hidden layers of the MLP scorer (ignored by the inner product).</param>
    /// <exception cref="ArgumentException">The inner product needs <paramref name="hiddenSize"/> = <paramref name="behaviourSize"/>.</exception>
    public NextBehaviourAuxiliaryLoss(int hiddenSize, int behaviourSize, AuxiliaryScorer scorer, IList<int> hiddenSizes)
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
        _hiddenSize = hiddenSize;
        _behaviourSize = behaviourSize;
        if (scorer == AuxiliaryScorer.InnerProduct)
        {
            if (hiddenSize != behaviourSize)
            {
                throw new ArgumentException(
                    $"The inner-product scorer needs hiddenSize = behaviourSize, got hiddenSize = {hiddenSize} and behaviourSize = {behaviourSize}.", nameof(hiddenSize));
            }

            layers = nn.ModuleList<Linear>();
        }
        else
        {
            var widths = new List<int> { hiddenSize + behaviourSize };
            widths.AddRange(hiddenSizes);
            layers = nn.ModuleList(Enumerable.Range(0, widths.Count - 1).Select(i => nn.Linear(widths[i], widths[i + 1])).ToArray());
            output = nn.Linear(widths[^1], 1);
        }

        RegisterComponents();
    }

    /// <summary>The scorer in use.</summary>
    public AuxiliaryScorer Scorer { get; }

    /// <summary>Computes L_aux.</summary>
    /// <param name="states">Extractor states h_t, [B, T, H].</param>
    /// <param name="behaviours">Real behaviours e_t, [B, T, E].</param>
    /// <param name="negatives">Sampled negatives, [B, T, E]: slot t is the negative for the behaviour at t.</param>
    /// <param name="mask">True at valid positions, bool [B, T].</param>
    /// <returns>A scalar; zero (with a graph) when no row has two valid behaviours.</returns>
    /// <exception cref="ArgumentException">A shape does not fit; the message names the tensor.</exception>
    public override Tensor forward(Tensor states, Tensor behaviours, Tensor negatives, Tensor mask)
    {
        AuxiliaryGuard.Check(states, behaviours, mask, _hiddenSize, _behaviourSize);
        AuxiliaryGuard.RequireSameShape(negatives, behaviours, nameof(negatives));
        using var scope = NewDisposeScope();
        long batch = states.shape[0], steps = states.shape[1];
        var current = ValidPositions.WithNext(mask);
        if (current.shape[0] == 0)
        {
            return (states.sum() * 0).MoveToOuterDisposeScope();
        }

        var next = current + 1;
        var h = states.reshape(batch * steps, -1).index_select(0, current);
        var positive = behaviours.reshape(batch * steps, -1).index_select(0, next);
        var negative = negatives.reshape(batch * steps, -1).index_select(0, next);

        // -log s(f) = softplus(-f) and -log(1 - s(f)) = softplus(f): stable for any logit.
        var loss = nn.functional.softplus(-Score(h, positive)) + nn.functional.softplus(Score(h, negative));
        return loss.mean().MoveToOuterDisposeScope();
    }

    /// <summary>The logit f(h, e) for paired rows, [N].</summary>
    private Tensor Score(Tensor h, Tensor e)
    {
        if (output is null)
        {
            return (h * e).sum(-1);
        }

        var x = torch.cat(new[] { h, e }, -1);
        foreach (var layer in layers)
        {
            x = torch.sigmoid(layer.call(x));
        }

        return output.call(x).squeeze(-1);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            layers.Dispose();
            output?.Dispose();
        }

        base.Dispose(disposing);
    }
}
