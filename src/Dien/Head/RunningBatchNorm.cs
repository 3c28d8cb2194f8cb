using Dien.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Dien.Head;

/// <summary>
/// BatchNorm over the features of [B, F] inputs with running statistics, computing what TorchSharp's
/// <c>nn.BatchNorm1d</c> computes, with the same state-dict entries (<c>weight</c>, <c>bias</c>,
/// <c>running_mean</c>, <c>running_var</c>, <c>num_batches_tracked</c>).
/// </summary>
/// <remarks>
/// TorchSharp's BatchNorm counts its batches with an implicit scalar that the garbage collector may free during
/// the native call (see <c>Runtime/HeldScalars</c>); this module counts with a held one, so that a long training
/// run cannot fail there.
/// </remarks>
internal sealed class RunningBatchNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")]
    private readonly Parameter? _weight;
    [ComponentName(Name = "bias")]
    private readonly Parameter? _bias;
    [ComponentName(Name = "running_mean")]
    private readonly Tensor _runningMean;
    [ComponentName(Name = "running_var")]
    private readonly Tensor _runningVar;
    [ComponentName(Name = "num_batches_tracked")]
    private readonly Tensor _numBatchesTracked;
    private readonly double _momentum;
    private readonly double _eps;

    /// <summary>Creates the normaliser: weight 1, bias 0, running mean 0 and variance 1.</summary>
    /// <param name="features">F, the width of the input.</param>
    /// <param name="eps">Added to the variance.</param>
    /// <param name="momentum">Weight of each batch in the running statistics.</param>
    /// <param name="affine">Learn a scale and a shift per feature.</param>
    public RunningBatchNorm(long features, double eps = 1e-5, double momentum = 0.1, bool affine = true)
        : base("BatchNorm1d")
    {
        if (affine)
        {
            _weight = new Parameter(ones(features));
            _bias = new Parameter(zeros(features));
        }

        _runningMean = zeros(features);
        _runningVar = ones(features);
        _numBatchesTracked = zeros(Array.Empty<long>(), ScalarType.Int64);
        _eps = eps;
        _momentum = momentum;
        RegisterComponents();
    }

    /// <summary>Normalises with the batch's statistics in training (updating the running ones), with the running ones in evaluation.</summary>
    /// <param name="input">[B, F].</param>
    /// <returns>[B, F].</returns>
    public override Tensor forward(Tensor input)
    {
        if (training)
        {
            using (no_grad())
            {
                _numBatchesTracked.add_(HeldScalars.One, HeldScalars.One);
            }
        }

        return nn.functional.batch_norm(input, _runningMean, _runningVar, _weight, _bias, training, _momentum, _eps);
    }
}
