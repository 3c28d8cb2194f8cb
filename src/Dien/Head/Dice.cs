using Dien.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Dien.Head;

/// <summary>
/// Dice (the DIN paper, Zhou et al., KDD 2018): p(s) = sigmoid((s - E[s]) / sqrt(Var[s] + eps)),
/// f(s) = p(s) * s + (1 - p(s)) * alpha * s, with a learnable alpha per unit (initialised to 0).
/// The statistics are the batch's in training and running averages in evaluation, kept in an
/// affine-free BatchNorm (<c>norm.running_mean</c>, <c>norm.running_var</c>); alpha is <c>alpha</c>.
/// </summary>
/// <remarks>Training needs at least two rows per batch (a variance of one value is undefined); evaluation takes any batch size.</remarks>
internal sealed class Dice : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "norm")]
    private readonly RunningBatchNorm _norm;
    [ComponentName(Name = "alpha")]
    private readonly Parameter _alpha;

    /// <summary>Creates Dice for <paramref name="features"/> units.</summary>
    /// <param name="features">Number of units.</param>
    /// <param name="eps">Added to the variance.</param>
    /// <param name="momentum">Weight of the newest batch in the running statistics.</param>
    public Dice(int features, double eps = 1e-8, double momentum = 0.1)
        : base(nameof(Dice))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        _norm = new RunningBatchNorm(features, eps, momentum, affine: false);
        _alpha = new Parameter(zeros(features));
        RegisterComponents();
    }

    /// <summary>Applies Dice.</summary>
    /// <param name="input">[B, features].</param>
    /// <returns>[B, features].</returns>
    /// <exception cref="ArgumentException">The input is not [B, features].</exception>
    public override Tensor forward(Tensor input)
    {
        Guard.Shape(input, new[] { Guard.Any, _alpha.size(0) });

        if (training && input.size(0) < 2)
        {
            throw new ArgumentException($"Dice in training needs at least 2 rows for its batch statistics; got Size = {input.size(0)}. Call eval() to score single rows.", nameof(input));
        }

        using var scope = NewDisposeScope();
        var p = torch.sigmoid(_norm.call(input));
        return (p * input).Plus(p.OneMinus() * _alpha * input).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _norm.Dispose();
            _alpha.Dispose();
        }

        base.Dispose(disposing);
    }
}
