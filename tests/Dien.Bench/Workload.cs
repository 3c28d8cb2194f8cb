using Dien.Evolution;
using Dien.Kernels.Recurrence;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Bench;

/// <summary>
/// The benchmark workload W's recurrent part: B = 128 rows, histories of 5 .. 50 behaviours (uniform),
/// behaviour width E = 36, hidden width H = 36, float32. Parameters require gradients as in training.
/// </summary>
internal sealed class Workload : IDisposable
{
    public const int Batch = 128, Steps = 50, Width = 36, Hidden = 36;

    public Workload(int seed = 1)
    {
        manual_seed(seed);
        var rng = new Random(seed);
        Lengths = Enumerable.Range(0, Batch).Select(_ => rng.Next(5, Steps + 1)).ToArray();
        Inputs = randn(Batch, Steps, Width).requires_grad_();
        Attention = rand(Batch, Steps).requires_grad_();
        Gru = nn.GRU(Width, Hidden, batchFirst: true);
        var p = Gru.named_parameters().ToDictionary(kv => kv.name, kv => kv.parameter);
        WeightIh = p["weight_ih_l0"];
        BiasIh = p["bias_ih_l0"];
        WeightHh = p["weight_hh_l0"];
        BiasHh = p["bias_hh_l0"];
        Mask = arange(Steps).unsqueeze(0).lt(tensor(Lengths.Select(l => (long)l).ToArray()).unsqueeze(1)).unsqueeze(2).to(ScalarType.Float32);
    }

    public int[] Lengths { get; }

    /// <summary>Behaviours e_t [B, T, E].</summary>
    public Tensor Inputs { get; }

    /// <summary>Attention scores [B, T].</summary>
    public Tensor Attention { get; }

    /// <summary>The built-in GRU whose weights every variant shares.</summary>
    public TorchSharp.Modules.GRU Gru { get; }

    public Tensor WeightIh { get; }

    public Tensor BiasIh { get; }

    public Tensor WeightHh { get; }

    public Tensor BiasHh { get; }

    /// <summary>[B, T, 1], 1 at valid positions.</summary>
    public Tensor Mask { get; }

    public Tensor InputProjection() => nn.functional.linear(Inputs, WeightIh, BiasIh);

    /// <summary>One of the benchmarked implementations, returning the tensor a loss is taken from.</summary>
    public Tensor Run(Implementation implementation) => implementation switch
    {
        Implementation.BuiltInGru => Gru.call(Inputs, null).Item1 * Mask,
        Implementation.GruLoop => StepwiseRecurrence.Run(RecurrentCell.Gru, RecurrentOutput.AllStates, InputProjection(), null, WeightHh, BiasHh, Lengths),
        Implementation.GruFused => FusedRecurrence.GruStates(InputProjection(), WeightHh, BiasHh, Lengths),
        Implementation.AugruLoop => StepwiseRecurrence.Run(RecurrentCell.AugruPaper, RecurrentOutput.FinalState, InputProjection(), Attention, WeightHh, BiasHh, Lengths),
        Implementation.AugruFused => FusedRecurrence.AttentionalFinalState(InputProjection(), Attention, WeightHh, BiasHh, Lengths, RecurrentCell.AugruPaper),
        _ => throw new ArgumentOutOfRangeException(nameof(implementation), implementation, null),
    };

    /// <summary>One training-shaped call: forward, a scalar loss, backward.</summary>
    public void ForwardBackward(Implementation implementation)
    {
        using var scope = NewDisposeScope();
        Run(implementation).sum().backward();
        foreach (var t in new[] { Inputs, Attention, WeightIh, BiasIh, WeightHh, BiasHh })
        {
            t.grad?.zero_();
        }
    }

    /// <summary>One inference-shaped call.</summary>
    public void ForwardOnly(Implementation implementation)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Run(implementation);
    }

    public void Dispose()
    {
        Gru.Dispose();
        Inputs.Dispose();
        Attention.Dispose();
        Mask.Dispose();
    }
}

/// <summary>The implementations compared.</summary>
internal enum Implementation
{
    /// <summary>TorchSharp's nn.GRU over the padded batch (outputs masked).</summary>
    BuiltInGru,

    /// <summary>The step-by-step libtorch composition of the plain GRU (all states).</summary>
    GruLoop,

    /// <summary>The fused kernel, plain GRU, all states.</summary>
    GruFused,

    /// <summary>The step-by-step libtorch composition of the paper's AUGRU (final state).</summary>
    AugruLoop,

    /// <summary>The fused kernel, paper AUGRU, final state.</summary>
    AugruFused,
}
