using Dien.Kernels.Activation;
using Dien.Kernels.Head;
using Dien.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Dien.Head;

/// <summary>
/// The prediction head (docs/architecture.md): optional BatchNorm on the input (<c>norm</c>), hidden
/// layers (<c>layers.i</c>) each followed by PReLU or Dice (<c>activations.i</c>) and optional dropout,
/// then <c>output</c>: one logit (sigmoid) or two (softmax).
/// </summary>
internal sealed class MlpHead : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "norm")]
    private readonly nn.Module<Tensor, Tensor> _norm;
    [ComponentName(Name = "layers")]
    private readonly ModuleList<Linear> _layers;
    [ComponentName(Name = "activations")]
    private readonly ModuleList<nn.Module<Tensor, Tensor>> _activations;
    [ComponentName(Name = "dropout")]
    private readonly Dropout? _dropout;
    [ComponentName(Name = "output")]
    private readonly Linear _output;

    /// <summary>Creates the head.</summary>
    /// <param name="inputSize">Width of the concatenated features.</param>
    /// <param name="hiddenSizes">Hidden layer widths (default 200, 80).</param>
    /// <param name="activation">Activation of the hidden layers.</param>
    /// <param name="batchNorm">Normalise the input with BatchNorm.</param>
    /// <param name="dropout">Dropout probability after each hidden layer; 0 for none.</param>
    /// <param name="output">One logit (sigmoid) or two (softmax).</param>
    public MlpHead(int inputSize, IList<int> hiddenSizes, HeadActivation activation, bool batchNorm, double dropout, HeadOutput output)
        : base(nameof(MlpHead))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        ArgumentNullException.ThrowIfNull(hiddenSizes);
        if (dropout < 0 || dropout >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "Dropout must be in [0, 1).");
        }

        _norm = batchNorm ? new RunningBatchNorm(inputSize) : nn.Identity();
        var widths = new List<int> { inputSize };
        widths.AddRange(hiddenSizes);
        _layers = nn.ModuleList(Enumerable.Range(0, widths.Count - 1).Select(i => nn.Linear(widths[i], widths[i + 1])).ToArray());
        _activations = nn.ModuleList(widths.Skip(1).Select(w => activation == HeadActivation.Dice
            ? (nn.Module<Tensor, Tensor>)new Dice(w)
            : nn.PReLU(w)).ToArray());
        _dropout = dropout > 0 ? nn.Dropout(dropout) : null;
        Output = output;
        _output = nn.Linear(widths[^1], Output == HeadOutput.Softmax ? 2 : 1);
        RegisterComponents();
    }

    /// <summary>The output form.</summary>
    public HeadOutput Output { get; }

    /// <summary>Runs the head.</summary>
    /// <param name="input">Concatenated features, [B, inputSize].</param>
    /// <returns>The click logit, [B]: sigmoid of it is the click probability (for two logits, l_1 - l_0).</returns>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = _norm.call(input);
        var logits = FusedLayers(x) ?? Layers(x);
        // Two logits: softmax(l)_1 = sigmoid(l_1 - l_0), so the click logit is their difference.
        var click = Output == HeadOutput.Softmax ? logits.select(1, 1).Minus(logits.select(1, 0)) : logits.squeeze(-1);
        return click.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Whether training runs the layers after the normalisation on the fused CPU kernel (<see cref="FusedHead"/>; PReLU
    /// and no dropout) or, with Dice or dropout, PReLU on its own kernel (<see cref="FusedPRelu"/>): the same values and
    /// gradients as libtorch's to float rounding; inference and other devices run libtorch's.
    /// </summary>
    public bool UseFusedKernels { get; set; } = true;

    /// <summary>The layers after the normalisation on libtorch, one operation at a time.</summary>
    private Tensor Layers(Tensor x)
    {
        for (int i = 0; i < _layers.Count; i++)
        {
            x = Activate(i, _layers[i].call(x));
            if (_dropout is not null)
            {
                x = _dropout.call(x);
            }
        }

        return _output.call(x);
    }

    /// <summary>
    /// The layers after the normalisation in one CPU kernel (<see cref="FusedHead"/>) while training with PReLU and no
    /// dropout; null where it does not take the call.
    /// </summary>
    private Tensor? FusedLayers(Tensor x)
    {
        if (!UseFusedKernels || _dropout is not null || !_activations.All(a => a is PReLU))
        {
            return null;
        }

        var weights = _layers.Select(l => l.weight!).ToList();
        var biases = _layers.Select(l => l.bias!).ToList();
        var slopes = _activations.Select(a => ((PReLU)a).weight!).ToList();
        return FusedHead.TryApply(x, weights, biases, slopes, _output.weight!, _output.bias);
    }

    private Tensor Activate(int layer, Tensor x)
        => UseFusedKernels && _activations[layer] is PReLU prelu ? FusedPRelu.Apply(x, prelu.weight!) : _activations[layer].call(x);

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _norm.Dispose();
            _layers.Dispose();
            _activations.Dispose();
            _dropout?.Dispose();
            _output.Dispose();
        }

        base.Dispose(disposing);
    }
}
