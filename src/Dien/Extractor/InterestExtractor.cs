using Dien.Data.Batching;
using Dien.Kernels.Projection;
using Dien.Kernels.Recurrence;
using Dien.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Dien.Extractor;

/// <summary>
/// The interest extractor (the paper's interest extractor layer): a GRU over the valid behaviours of each row,
/// h_t = GRU(e_t, h_{t-1}), h_0 = 0, with zero states at padded positions.
/// </summary>
/// <remarks>
/// The GRU is TorchSharp's <c>nn.GRU</c> (state-dict keys <c>gru.weight_ih_l0</c> [3H, E],
/// <c>gru.weight_hh_l0</c> [3H, H], <c>gru.bias_ih_l0</c>, <c>gru.bias_hh_l0</c> [3H]; gate rows r, z, n) and
/// keeps its sign convention: h_t = (1 - z) * n + z * h_{t-1}, so z is the keep gate. On CPU it runs as
/// one fused kernel (<see cref="FusedRecurrence"/>); elsewhere, or when fused kernels are off, as a
/// packed-sequence <c>nn.GRU</c>. Both compute only up to the longest valid length in the batch.
/// </remarks>
internal sealed class InterestExtractor : nn.Module<Tensor, Tensor, int[], Tensor>
{
    [ComponentName(Name = "gru")]
    private readonly GRU _gru;

    /// <summary>Creates the extractor.</summary>
    /// <param name="inputSize">Behaviour width E.</param>
    /// <param name="hiddenSize">State width H.</param>
    /// <param name="useFusedKernels">Run the fused CPU kernel when the input is on CPU.</param>
    public InterestExtractor(int inputSize, int hiddenSize, bool useFusedKernels = true)
        : base(nameof(InterestExtractor))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hiddenSize);
        _gru = nn.GRU(inputSize, hiddenSize, batchFirst: true);
        UseFusedKernels = useFusedKernels;
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        RegisterComponents();
    }

    /// <summary>Behaviour width E.</summary>
    public int InputSize { get; }

    /// <summary>State width H.</summary>
    public int HiddenSize { get; }

    /// <summary>Whether the fused CPU kernel runs when it can (otherwise the packed <c>nn.GRU</c>).</summary>
    public bool UseFusedKernels { get; set; }

    /// <summary>
    /// Histories (rows) this extractor has been run on since it was built: a diagnostic that shows ranking encodes
    /// each request's history once, not once per candidate.
    /// </summary>
    internal long RowsRun { get; private set; }

    /// <summary>Runs the GRU over the valid positions.</summary>
    /// <param name="behaviours">e_t, float [B, T, E].</param>
    /// <param name="mask">True at valid positions, bool [B, T] (left-aligned: the first lengths[b] positions).</param>
    /// <param name="lengths">Valid lengths on the host, one per row, each in 0 .. T.</param>
    /// <returns>States h_t, [B, T, H]; zero at padded positions and for empty rows.</returns>
    /// <exception cref="ArgumentException">A shape or length does not fit.</exception>
    public override Tensor forward(Tensor behaviours, Tensor mask, int[] lengths)
    {
        Guard.Shape(behaviours, new[] { Guard.Any, Guard.Any, (long)InputSize });
        Guard.Mask(mask, behaviours.size(0), behaviours.size(1));
        Guard.Lengths(lengths, behaviours.size(0), behaviours.size(1));
        using var scope = NewDisposeScope();
        long batch = behaviours.size(0), steps = behaviours.size(1);
        RowsRun += batch;
        int last = lengths.Length == 0 ? 0 : lengths.Max();
        if (last == 0)
        {
            return zeros(new[] { batch, steps, (long)HiddenSize }, dtype: behaviours.dtype, device: behaviours.device).MoveToOuterDisposeScope();
        }

        var input = behaviours.narrow(1, 0, last);
        Tensor states;
        if (UseFusedKernels && FusedRecurrence.Supports(input))
        {
            // Parameters are looked up per call: a device move replaces them.
            // Mostly padding: the kernel reads the valid positions' projections packed, row after row.
            bool gather = ValidPositionProjection.Pays(behaviours, lengths, last);
            var projection = gather
                ? ValidPositionProjection.Gather(behaviours, lengths, Parameter("weight_ih_l0"), Parameter("bias_ih_l0"))
                : nn.functional.linear(input, Parameter("weight_ih_l0"), Parameter("bias_ih_l0"));
            states = FusedRecurrence.Run(RecurrentCell.Gru, RecurrentOutput.AllStates, projection, null, Parameter("weight_hh_l0"), Parameter("bias_hh_l0"), lengths, gather ? last : null);
        }
        else
        {
            states = PackedGru(input, mask.narrow(1, 0, last), lengths);
        }

        if (last < steps)
        {
            states = nn.functional.pad(states, new long[] { 0, 0, 0, steps - last });
        }

        return states.MoveToOuterDisposeScope();
    }

    /// <summary>Whether <see cref="ForwardPacked"/> can take these behaviours: the fused kernel runs for them.</summary>
    /// <param name="behaviours">The behaviours, packed or padded.</param>
    public bool ReadsPacked(Tensor behaviours) => UseFusedKernels && FusedRecurrence.Supports(behaviours);

    /// <summary>
    /// Runs the GRU over behaviours packed (the valid positions row after row) and returns the states packed the
    /// same way: the fused kernel projects the behaviours as they are, and what reads the states next pays nothing
    /// for padding.
    /// </summary>
    /// <param name="behaviours">e_t at the N valid positions of <paramref name="mask"/>, [N, E].</param>
    /// <param name="mask">True at valid positions, bool [B, T] (left-aligned: the first lengths[b] positions).</param>
    /// <param name="lengths">Valid lengths on the host, one per row, summing to N.</param>
    /// <returns>States h_t at the valid positions, [N, H].</returns>
    /// <exception cref="ArgumentException">A shape or length does not fit, or the fused kernel cannot take the behaviours (<see cref="ReadsPacked"/>).</exception>
    public Tensor ForwardPacked(Tensor behaviours, Tensor mask, int[] lengths)
    {
        Guard.PackedRoute(ReadsPacked(behaviours), behaviours, UseFusedKernels);
        Guard.Shape(behaviours, new[] { ValidPositions.Count(lengths), (long)InputSize });
        Guard.Mask(mask, lengths.Length, Guard.Any);
        long batch = mask.size(0), steps = mask.size(1);
        Guard.Lengths(lengths, batch, steps);
        using var scope = NewDisposeScope();
        RowsRun += batch;
        int last = lengths.Length == 0 ? 0 : lengths.Max();
        if (last == 0)
        {
            return zeros(new[] { 0L, HiddenSize }, dtype: behaviours.dtype, device: behaviours.device).MoveToOuterDisposeScope();
        }

        var projection = FusedLinear.Apply(behaviours, Parameter("weight_ih_l0"), Parameter("bias_ih_l0"));
        return FusedRecurrence.Run(RecurrentCell.Gru, RecurrentOutput.PackedStates, projection, null, Parameter("weight_hh_l0"), Parameter("bias_hh_l0"), lengths, last)
            .MoveToOuterDisposeScope();
    }

    private Tensor Parameter(string name) => _gru.get_parameter(name)
        ?? throw new InvalidOperationException($"The GRU has no parameter '{name}'.");

    private Tensor PackedGru(Tensor input, Tensor mask, int[] lengths)
    {
        // Packing rejects empty rows: run them for one step and zero their output afterwards.
        var packedLengths = tensor(lengths.Select(l => (long)Math.Max(l, 1)).ToArray());
        var packed = nn.utils.rnn.pack_padded_sequence(input, packedLengths, batch_first: true, enforce_sorted: false);
        var (output, _) = _gru.call(packed);
        var (padded, _) = nn.utils.rnn.pad_packed_sequence(output, batch_first: true, total_length: input.size(1));
        return padded * mask.unsqueeze(-1).to_type(padded.dtype);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _gru.Dispose();
        }

        base.Dispose(disposing);
    }
}
