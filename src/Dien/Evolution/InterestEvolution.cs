using Dien.Data.Batching;
using Dien.Kernels.Projection;
using Dien.Kernels.Recurrence;
using Dien.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Dien.Evolution;

/// <summary>
/// The interest-evolution layer (the paper's interest evolving layer): a GRU over the extractor states driven by the
/// attention of the target ad, returning the final interest h'_T, the state at each row's last valid step.
/// </summary>
/// <remarks>
/// <para>
/// Every variant uses one cell with gate rows (r, u, h~), u the UPDATE gate (the fraction that moves towards
/// the candidate): state-dict keys <c>weight_ih</c> [3H, H_in], <c>weight_hh</c> [3H, H], <c>bias_ih</c> [3H],
/// <c>bias_hh</c> [3H], initialised like GRUCell (uniform in +-1/sqrt(H)). The reset gate multiplies the
/// hidden projection after the matrix product: h~ = tanh(W_h x + b_ih + r * (U_h h + b_hh)). A plain GRU step
/// (AIGRU, and the GRU ablation) is h = (1 - u) * h_prev + u * h~ (the paper form with a = 1). Note that
/// TorchSharp's own GRU (the extractor) writes the mirror image, with a keep gate z = 1 - u.
/// </para>
/// <para>
/// The input projections of all steps are one matrix product; only the recurrence loops over time, up to
/// the longest valid length in the batch. On CPU it runs as one fused kernel (<see cref="FusedRecurrence"/>),
/// elsewhere as <see cref="StepwiseRecurrence"/>. Padded steps leave the state unchanged.
/// </para>
/// </remarks>
internal sealed class InterestEvolution : nn.Module<Tensor, Tensor, Tensor, int[], Tensor>
{
    [ComponentName(Name = "weight_ih")]
    private readonly Parameter _weightIh;
    [ComponentName(Name = "weight_hh")]
    private readonly Parameter _weightHh;
    [ComponentName(Name = "bias_ih")]
    private readonly Parameter _biasIh;
    [ComponentName(Name = "bias_hh")]
    private readonly Parameter _biasHh;

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
            throw new ArgumentOutOfRangeException(nameof(variant), variant, "Not a defined evolution variant.");
        }

        Variant = variant;
        HiddenSize = hiddenSize;
        UseFusedKernels = useFusedKernels;
        double bound = 1.0 / Math.Sqrt(hiddenSize);
        _weightIh = new Parameter(empty(3 * hiddenSize, inputSize).uniform_(-bound, bound));
        _weightHh = new Parameter(empty(3 * hiddenSize, hiddenSize).uniform_(-bound, bound));
        _biasIh = new Parameter(empty(3 * hiddenSize).uniform_(-bound, bound));
        _biasHh = new Parameter(empty(3 * hiddenSize).uniform_(-bound, bound));

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
        => Evolve(states, HistoryIndex.Identity, attention, mask, lengths);

    /// <summary>
    /// Evolves the interest of rows that share histories: <paramref name="states"/> has one row per history and the
    /// other inputs one per scored row, which reads its history through <paramref name="rows"/>. The input projection
    /// does not depend on the attention (except for AIGRU, whose input is a_t h_t), so it runs once per history.
    /// </summary>
    /// <param name="states">Extractor states h_t, [R, T, H_in].</param>
    /// <param name="rows">The history each row reads (<see cref="HistoryIndex.Identity"/>: R = B, its own).</param>
    /// <param name="attention">Attention weights a_t, [B, T], zero at padding.</param>
    /// <param name="mask">True at valid positions, bool [B, T].</param>
    /// <param name="lengths">Valid lengths of the rows on the host.</param>
    /// <returns>The final interest h'_T, [B, H]; zero for an empty row.</returns>
    /// <exception cref="ArgumentException">A shape or length does not fit.</exception>
    internal Tensor Evolve(Tensor states, HistoryIndex rows, Tensor attention, Tensor mask, int[] lengths)
    {
        ArgumentNullException.ThrowIfNull(rows);
        Guard.Shape(states, new[] { Guard.Any, Guard.Any, _weightIh.size(1) });
        long batch = rows.IsIdentity ? states.size(0) : rows.Rows;
        Guard.Mask(mask, batch, states.size(1));
        Guard.Lengths(lengths, batch, states.size(1));
        Guard.Shape(attention, new[] { batch, states.size(1) });

        using var scope = NewDisposeScope();
        int last = lengths.Length == 0 ? 0 : lengths.Max();
        if (last == 0)
        {
            return zeros(new[] { batch, (long)HiddenSize }, dtype: states.dtype, device: states.device).MoveToOuterDisposeScope();
        }

        var x = states.narrow(1, 0, last);
        var a = attention.narrow(1, 0, last);

        // Each row reading its own history (training, evaluation): project the valid positions only where padding
        // is most of the batch. Candidates sharing a history project it once, at the history's rows, then spread.
        var input = Variant == EvolutionVariant.Aigru ? rows.Spread(x) * a.unsqueeze(-1) : states;
        Tensor result = Variant switch
        {
            EvolutionVariant.Aigru => RunProjected(RecurrentCell.UpdateGateGru, RecurrentOutput.FinalState, input, gather: true, null, lengths, last),
            EvolutionVariant.Gru => (RunProjected(RecurrentCell.UpdateGateGru, RecurrentOutput.AllStates, input, rows.IsIdentity, null, lengths, last, rows) * a.unsqueeze(-1)).sum(1),
            _ => RunProjected(AttentionalCell(Variant), RecurrentOutput.FinalState, input, rows.IsIdentity, a, lengths, last, rows),
        };
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Whether <see cref="EvolvePacked"/> can take these states: the fused kernel runs for them.</summary>
    /// <param name="states">The extractor states, packed or padded.</param>
    internal bool ReadsPacked(Tensor states) => UseFusedKernels && FusedRecurrence.Supports(states);

    /// <summary>
    /// Evolves the interest of rows reading their own history from extractor states packed (the valid positions row
    /// after row): the input projection runs over the valid states as they are, no gather, no padded gradient.
    /// </summary>
    /// <param name="states">Extractor states h_t at the N valid positions, [N, H_in].</param>
    /// <param name="positions">Where each packed state sits in the padded layout: b * T + t, int64 [N].</param>
    /// <param name="rowOfPosition">The row b of each packed state, int64 [N].</param>
    /// <param name="attention">Attention weights a_t, [B, T], zero at padding.</param>
    /// <param name="lengths">Valid lengths of the rows on the host, summing to N.</param>
    /// <returns>The final interest h'_T, [B, H]; zero for an empty row.</returns>
    /// <exception cref="ArgumentException">A shape or length does not fit, or the fused kernel cannot take the states (<see cref="ReadsPacked"/>).</exception>
    internal Tensor EvolvePacked(Tensor states, Tensor positions, Tensor rowOfPosition, Tensor attention, int[] lengths)
    {
        Guard.PackedRoute(ReadsPacked(states), states, UseFusedKernels);
        Guard.Shape(states, new[] { ValidPositions.Count(lengths), _weightIh.size(1) });
        Guard.Shape(attention, new[] { lengths.Length, Guard.Any });
        Guard.Lengths(lengths, attention.size(0), attention.size(1));
        using var scope = NewDisposeScope();
        long batch = attention.size(0);
        int last = lengths.Length == 0 ? 0 : lengths.Max();
        if (last == 0)
        {
            return zeros(new[] { batch, (long)HiddenSize }, dtype: states.dtype, device: states.device).MoveToOuterDisposeScope();
        }

        var a = attention.narrow(1, 0, last);
        Tensor result = Variant switch
        {
            // AIGRU's input is a_t h_t: the weights at the valid positions scale the packed states.
            EvolutionVariant.Aigru => FusedRecurrence.Run(RecurrentCell.UpdateGateGru, RecurrentOutput.FinalState, Project(states * PackedWeights(attention, positions)), null, _weightHh, _biasHh, lengths, packedSteps: last),
            EvolutionVariant.Gru => zeros(new[] { batch, (long)HiddenSize }, dtype: states.dtype, device: states.device)
                .index_add(0, rowOfPosition, FusedRecurrence.Run(RecurrentCell.UpdateGateGru, RecurrentOutput.PackedStates, Project(states), null, _weightHh, _biasHh, lengths, packedSteps: last) * PackedWeights(attention, positions), HeldScalars.One),
            _ => FusedRecurrence.Run(AttentionalCell(Variant), RecurrentOutput.FinalState, Project(states), a, _weightHh, _biasHh, lengths, packedSteps: last),
        };
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>The attention weights at the packed positions, [N, 1].</summary>
    private static Tensor PackedWeights(Tensor attention, Tensor positions) => attention.reshape(-1).index_select(0, positions).unsqueeze(-1);

    /// <summary>The recurrent cell of an attentional variant (AUGRU in either form, AGRU).</summary>
    private static RecurrentCell AttentionalCell(EvolutionVariant variant) => variant switch
    {
        EvolutionVariant.Augru => RecurrentCell.AugruPaper,
        EvolutionVariant.AugruAuthorsCode => RecurrentCell.AugruAuthorsCode,
        EvolutionVariant.Agru => RecurrentCell.Agru,
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "Not an attentional evolution variant."),
    };

    /// <summary>The input projections of all steps, W_ih x + b_ih, in one matrix product (the kernels' own while training with fused kernels).</summary>
    private Tensor Project(Tensor x) => UseFusedKernels ? FusedLinear.Apply(x, _weightIh, _biasIh) : nn.functional.linear(x, _weightIh, _biasIh);

    /// <summary>
    /// Projects the first <paramref name="last"/> positions of <paramref name="input"/> [rows, T, E] and runs the
    /// recurrence. Where gathering is allowed (each row its own input) and pays, the fused kernel reads the valid
    /// positions' projections packed and the composition gets them scattered into the padded shape; otherwise one
    /// product over every position, which the candidates' rows read through <paramref name="spread"/> when it is given
    /// (the fused kernel in place, the composition from a copy per row).
    /// </summary>
    private Tensor RunProjected(RecurrentCell cell, RecurrentOutput output, Tensor input, bool gather, Tensor? a, int[] lengths, int last, HistoryIndex? spread = null)
    {
        if (gather && ValidPositionProjection.Pays(input, lengths, last))
        {
            return UseFusedKernels && FusedRecurrence.Supports(input)
                ? FusedRecurrence.Run(cell, output, ValidPositionProjection.Gather(input, lengths, _weightIh, _biasIh), a, _weightHh, _biasHh, lengths, packedSteps: last)
                : StepwiseRecurrence.Run(cell, output, ValidPositionProjection.Linear(input, lengths, last, _weightIh, _biasIh), a, _weightHh, _biasHh, lengths);
        }

        var projection = Project(input.narrow(1, 0, last));
        if (UseFusedKernels && FusedRecurrence.Supports(projection))
        {
            // Candidates read their history's projection where it is: no [rows, T, 3H] copy per candidate.
            return FusedRecurrence.Run(cell, output, projection, a, _weightHh, _biasHh, lengths, inputRows: spread?.HistoryOfRow);
        }

        return StepwiseRecurrence.Run(cell, output, spread is null ? projection : spread.Spread(projection), a, _weightHh, _biasHh, lengths);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _weightIh.Dispose();
            _weightHh.Dispose();
            _biasIh.Dispose();
            _biasHh.Dispose();
        }

        base.Dispose(disposing);
    }
}
