using Dien.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Dien.Head;

/// <summary>
/// The prediction head (DESIGN.md section 6): optional BatchNorm on the input (<c>input_norm</c>), hidden
/// layers (<c>layers.i</c>) each followed by PReLU or Dice (<c>activations.i</c>) and optional dropout,
/// then <c>output</c>: one logit (sigmoid) or two (softmax).
/// </summary>
public sealed class MlpHead : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> input_norm;
    private readonly ModuleList<Linear> layers;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> activations;
    private readonly Dropout? dropout;
    private readonly Linear output;

    /// <summary>Creates the head.</summary>
    /// <param name="inputSize">Width of the concatenated features.</param>
    /// <param name="options">Hidden sizes, activation, normalisation, dropout and output of the head.</param>
    public MlpHead(int inputSize, DienOptions options)
        : base(nameof(MlpHead))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        ArgumentNullException.ThrowIfNull(options);
        input_norm = options.HeadBatchNorm ? nn.BatchNorm1d(inputSize) : nn.Identity();
        var widths = new List<int> { inputSize };
        widths.AddRange(options.HeadHiddenSizes);
        layers = nn.ModuleList(Enumerable.Range(0, widths.Count - 1).Select(i => nn.Linear(widths[i], widths[i + 1])).ToArray());
        activations = nn.ModuleList(widths.Skip(1).Select(w => options.HeadActivation == HeadActivation.Dice
            ? (nn.Module<Tensor, Tensor>)new Dice(w)
            : nn.PReLU(w)).ToArray());
        dropout = options.HeadDropout > 0 ? nn.Dropout(options.HeadDropout) : null;
        Output = options.HeadOutput;
        output = nn.Linear(widths[^1], Output == HeadOutput.Softmax ? 2 : 1);
        RegisterComponents();
    }

    /// <summary>The output form.</summary>
    public HeadOutput Output { get; }

    /// <summary>Runs the head.</summary>
    /// <param name="input">Concatenated features, [B, inputSize].</param>
    /// <returns>Logits: [B] for <see cref="HeadOutput.Sigmoid"/>, [B, 2] for <see cref="HeadOutput.Softmax"/>.</returns>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = input_norm.call(input);
        for (int i = 0; i < layers.Count; i++)
        {
            x = activations[i].call(layers[i].call(x));
            if (dropout is not null)
            {
                x = dropout.call(x);
            }
        }

        var logits = output.call(x);
        return (Output == HeadOutput.Softmax ? logits : logits.squeeze(-1)).MoveToOuterDisposeScope();
    }

    /// <summary>The click logit from the head's output: the logit itself, or l_1 - l_0 for two logits (softmax(l)_1 = sigmoid(l_1 - l_0)).</summary>
    /// <param name="logits">The output of <see cref="forward"/>.</param>
    /// <returns>[B].</returns>
    public Tensor ClickLogit(Tensor logits)
        => Output == HeadOutput.Softmax ? logits.select(1, 1) - logits.select(1, 0) : logits;

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            input_norm.Dispose();
            layers.Dispose();
            activations.Dispose();
            dropout?.Dispose();
            output.Dispose();
        }

        base.Dispose(disposing);
    }
}
