using Dien.Extractor;
using Dien.Kernels;
using Dien.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Dien.Evolution;

/// <summary>
/// The interest-evolution layer (DESIGN.md section 5): a GRU over the extractor states driven by the
/// attention of the target ad, returning the final interest h'_T, the state at each row's last valid step.
/// </summary>
/// <remarks>
/// <para>
/// AUGRU (paper and authors'-code forms) and AGRU use an attentional cell with gate rows (r, u, h~), u the
/// UPDATE gate (the fraction that moves towards the candidate): state-dict keys <c>weight_ih</c> [3H, H_in],
/// <c>weight_hh</c> [3H, H], <c>bias_ih</c> [3H], <c>bias_hh</c> [3H]; the reset gate multiplies the hidden
/// projection after the matrix product: h~ = tanh(W_h x + b_ih + r * (U_h h + b_hh)).
/// </para>
/// <para>
/// AIGRU (a plain GRU over a_t * h_t) and the GRU ablation (a plain GRU over h_t, then sum_t a_t * out_t)
/// use TorchSharp's <c>nn.GRU</c> (<c>gru.weight_ih_l0</c>, ...; rows r, z, n, z the KEEP gate).
/// </para>
/// <para>
/// The input projections of all steps are one matrix product; only the recurrence loops over time, up to
/// the longest valid length in the batch. On CPU it runs as one fused kernel (<see cref="FusedRecurrence"/>),
/// elsewhere as <see cref="StepwiseRecurrence"/>. Padded steps leave the state unchanged.
/// </para>
/// </remarks>
public sealed class InterestEvolution : nn.Module<Tensor, Tensor, Tensor, int[], Tensor>
{
    private readonly Parameter? weight_ih;
    private readonly Parameter? weight_hh;
    private readonly Parameter? bias_ih;
    private readonly Parameter? bias_hh;
    private readonly GRU? gru;

    /// <summary>Creates the layer.</summary>
    /// <param name="inputSize">Width H_in of the extractor states.</param>
    /// <param name="hiddenSize">Width H of the evolving interest.</param>
    /// <param name="variant">The evolution variant.</param>
    /// <param name="useFusedKernels">Run the fused CPU kernel when the input is on CPU.</param>
    public InterestEvolution(int inputSize, int hiddenSize, EvolutionVariant variant, bool useFusedKernels = true)
        : base(nameof(InterestEvolution))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hiddenSize);
        if (!Enum.IsDefined(variant))
        {
            throw new ArgumentException($"variant = {variant}: not a defined evolution variant.", nameof(variant));
        }

        Variant = variant;
        HiddenSize = hiddenSize;
        UseFusedKernels = useFusedKernels;
        if (FusedRecurrence.CellFor(variant) is null)
        {
            gru = nn.GRU(inputSize, hiddenSize, batchFirst: true);
        }
        else
        {
            // Initialised like GRUCell: uniform in +-1/sqrt(H).
            double bound = 1.0 / Math.Sqrt(hiddenSize);
            weight_ih = new Parameter(empty(3 * hiddenSize, inputSize).uniform_(-bound, bound));
            weight_hh = new Parameter(empty(3 * hiddenSize, hiddenSize).uniform_(-bound, bound));
            bias_ih = new Parameter(empty(3 * hiddenSize).uniform_(-bound, bound));
            bias_hh = new Parameter(empty(3 * hiddenSize).uniform_(-bound, bound));
        }

        RegisterComponents();
    }

    /// <summary>The evolution variant.</summary>
    public EvolutionVariant Variant { get; }

    /// <summary>Width H of the final interest.</summary>
    public int HiddenSize { get; }

    /// <summary>Whether the fused CPU kernel runs when it can (otherwise the step-by-step libtorch loop).</summary>
    public bool UseFusedKernels { get; set; }

    /// <summary>Evolves the interest along the valid positions.</summary>
    /// <param name="states">Extractor states h_t, [B, T, H_in].</param>
    /// <param name="attention">Attention weights a_t, [B, T], zero at padding.</param>
    /// <param name="mask">True at valid positions, bool [B, T].</param>
    /// <param name="lengths">Valid lengths on the host.</param>
    /// <returns>The final interest h'_T, [B, H]; zero for an empty row.</returns>
    /// <exception cref="ArgumentException">A shape or length does not fit.</exception>
    public override Tensor forward(Tensor states, Tensor attention, Tensor mask, int[] lengths)
    {
        SequenceGuard.Check(states, mask, lengths, nameof(states));
        if (attention.dim() != 2 || attention.shape[0] != states.shape[0] || attention.shape[1] != states.shape[1])
        {
            throw new ArgumentException($"attention has shape [{string.Join(", ", attention.shape)}]: expected [{states.shape[0]}, {states.shape[1]}].", nameof(attention));
        }

        using var scope = NewDisposeScope();
        int last = lengths.Length == 0 ? 0 : lengths.Max();
        if (last == 0)
        {
            return zeros(new[] { states.shape[0], (long)HiddenSize }, dtype: states.dtype, device: states.device).MoveToOuterDisposeScope();
        }

        var x = states.narrow(1, 0, last);
        var a = attention.narrow(1, 0, last);
        Tensor result = Variant switch
        {
            EvolutionVariant.Aigru => RunGru(x * a.unsqueeze(-1), RecurrentOutput.FinalState, lengths),
            EvolutionVariant.Gru => (RunGru(x, RecurrentOutput.AllStates, lengths) * a.unsqueeze(-1)).sum(1),
            _ => RunAttentional(x, a, lengths),
        };
        return result.MoveToOuterDisposeScope();
    }

    private Tensor RunAttentional(Tensor x, Tensor a, int[] lengths)
    {
        var cell = FusedRecurrence.CellFor(Variant)!.Value;
        var projection = nn.functional.linear(x, weight_ih!, bias_ih);
        return UseFusedKernels && FusedRecurrence.Supports(projection)
            ? FusedRecurrence.AttentionalFinalState(projection, a, weight_hh!, bias_hh, lengths, cell)
            : StepwiseRecurrence.Run(cell, RecurrentOutput.FinalState, projection, a, weight_hh!, bias_hh, lengths);
    }

    private Tensor RunGru(Tensor x, RecurrentOutput output, int[] lengths)
    {
        var projection = nn.functional.linear(x, GruParameter("weight_ih_l0"), GruParameter("bias_ih_l0"));
        return UseFusedKernels && FusedRecurrence.Supports(projection)
            ? FusedRecurrence.Run(RecurrentCell.Gru, output, projection, null, GruParameter("weight_hh_l0"), GruParameter("bias_hh_l0"), lengths)
            : StepwiseRecurrence.Run(RecurrentCell.Gru, output, projection, null, GruParameter("weight_hh_l0"), GruParameter("bias_hh_l0"), lengths);
    }

    // Looked up per call: a device move replaces the parameters.
    private Tensor GruParameter(string name) => gru!.get_parameter(name)
        ?? throw new InvalidOperationException($"The GRU has no parameter '{name}'.");

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            gru?.Dispose();
            weight_ih?.Dispose();
            weight_hh?.Dispose();
            bias_ih?.Dispose();
            bias_hh?.Dispose();
        }

        base.Dispose(disposing);
    }
}
