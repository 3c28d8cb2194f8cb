using Dien.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.Recurrence;

/// <summary>The checked, non-tensor description of one fused recurrence call.</summary>
internal sealed class RecurrenceSpec
{
    private RecurrenceSpec(RecurrentCell cell, RecurrentOutput output, int batch, int steps, int hidden, int[] lengths, ScalarType dtype, bool packed, long validPositions, int[]? inputRows)
    {
        Packed = packed;
        InputRows = inputRows;
        ValidPositions = validPositions;
        Cell = cell;
        Output = output;
        Batch = batch;
        Steps = steps;
        Hidden = hidden;
        Lengths = lengths;
        DType = dtype;
    }

    public RecurrentCell Cell { get; }

    public RecurrentOutput Output { get; }

    public int Batch { get; }

    public int Steps { get; }

    public int Hidden { get; }

    /// <summary>A private copy of the host lengths (the caller may reuse its array before backward runs).</summary>
    public int[] Lengths { get; }

    /// <summary>Whether the input projection holds the valid positions only, row after row ([sum of lengths, 3H]).</summary>
    public bool Packed { get; }

    /// <summary>
    /// Whether states, saved gates and the states' gradient are packed (one row per valid position): with a packed
    /// input, for every output but <see cref="RecurrentOutput.AllStates"/>, which is padded by definition.
    /// </summary>
    public bool PackedStates => Packed && Output != RecurrentOutput.AllStates;

    /// <summary>
    /// Null: row b reads block b of the input projection. Otherwise the projection has one block per history,
    /// [R, T, 3H], and row b reads block InputRows[b] (forward only: <see cref="FusedRecurrence.Run"/>).
    /// </summary>
    public int[]? InputRows { get; }

    /// <summary>The valid positions: the rows of a packed input projection.</summary>
    public long ValidPositions { get; }

    public ScalarType DType { get; }

    /// <exception cref="ArgumentException">A shape, device, dtype or length does not fit.</exception>
    public static RecurrenceSpec Validate(RecurrentCell cell, RecurrentOutput output, Tensor inputProjection, Tensor? attention, Tensor weightHh, Tensor? biasHh, int[] lengths, int? packedSteps = null, int[]? inputRows = null)
    {
        ArgumentNullException.ThrowIfNull(inputProjection);
        ArgumentNullException.ThrowIfNull(weightHh);
        ArgumentNullException.ThrowIfNull(lengths);
        if (!Enum.IsDefined(cell))
        {
            throw new ArgumentException($"cell = {cell}: not a defined cell.", nameof(cell));
        }

        if (!Enum.IsDefined(output))
        {
            throw new ArgumentException($"output = {output}: not a defined output.", nameof(output));
        }

        bool packed = packedSteps is not null;
        if (output == RecurrentOutput.PackedStates && !packed)
        {
            throw new ArgumentException("output = PackedStates needs a packed input projection (give packedSteps).", nameof(output));
        }

        if (inputProjection.dim() != (packed ? 2 : 3))
        {
            throw new ArgumentException($"inputProjection has shape {Guard.ShapeOf(inputProjection)}: expected {(packed ? "[valid positions, 3H] (packed)" : "[B, T, 3H]")}.", nameof(inputProjection));
        }

        if (weightHh.dim() != 2 || weightHh.size(0) != 3 * weightHh.size(1) || weightHh.size(1) == 0)
        {
            throw new ArgumentException($"weightHh has shape {Guard.ShapeOf(weightHh)}: expected [3H, H] with H > 0.", nameof(weightHh));
        }

        if (inputRows is not null)
        {
            if (packed)
            {
                throw new ArgumentException("inputRows was given with packedSteps: rows share blocks of a padded projection [R, T, 3H] only.", nameof(inputRows));
            }

            // Read once, not once per row in the check below: each read is a native call.
            long blocks = inputProjection.size(0);
            int bad = Array.FindIndex(inputRows, r => r < 0 || r >= blocks);
            if (bad >= 0)
            {
                throw new ArgumentException($"inputRows[{bad}] = {inputRows[bad]}: inputProjection has shape {Guard.ShapeOf(inputProjection)}, so a row reads a block 0 .. {blocks - 1}.", nameof(inputRows));
            }
        }

        long batch = packed || inputRows is not null ? lengths.Length : inputProjection.size(0), steps = packedSteps ?? inputProjection.size(1), hidden = weightHh.size(1);
        long valid = lengths.Sum(l => (long)Math.Max(l, 0));
        if (packed && inputProjection.size(0) != valid)
        {
            throw new ArgumentException($"inputProjection has shape {Guard.ShapeOf(inputProjection)}: a packed projection has one row per valid position ({valid}).", nameof(inputProjection));
        }

        if (inputProjection.size(-1) != 3 * hidden)
        {
            throw new ArgumentException($"inputProjection has shape {Guard.ShapeOf(inputProjection)}: its last dimension must be 3H = {3 * hidden} (H from weightHh).", nameof(inputProjection));
        }

        RequireCpu(inputProjection, nameof(inputProjection), inputProjection.dtype);
        RequireCpu(weightHh, nameof(weightHh), inputProjection.dtype);
        if (biasHh is not null)
        {
            RequireCpu(biasHh, nameof(biasHh), inputProjection.dtype);
            if (biasHh.dim() != 1 || biasHh.size(0) != 3 * hidden)
            {
                throw new ArgumentException($"biasHh has shape {Guard.ShapeOf(biasHh)}: expected [{3 * hidden}].", nameof(biasHh));
            }
        }

        if (cell is RecurrentCell.Gru or RecurrentCell.UpdateGateGru)
        {
            if (attention is not null)
            {
                throw new ArgumentException("attention was given to a plain GRU: only the attentional cells take it (AIGRU scales its inputs instead).", nameof(attention));
            }
        }
        else
        {
            if (attention is null)
            {
                throw new ArgumentException($"attention is null: the {cell} cell needs attention scores [B, T].", nameof(attention));
            }

            RequireCpu(attention, nameof(attention), inputProjection.dtype);
            Guard.Shape(attention, new[] { batch, steps });
        }

        // Checked here although callers check too: the kernels index memory by these lengths.
        Guard.Lengths(lengths, batch, steps);

        if (inputRows is not null && inputRows.Length != batch)
        {
            throw new ArgumentException($"inputRows has {inputRows.Length} entries for {batch} rows (lengths): one block per row.", nameof(inputRows));
        }

        if (batch * steps * 3 * hidden > int.MaxValue)
        {
            throw new ArgumentException($"inputProjection has {batch * steps * 3 * hidden} elements: the fused kernels take at most {int.MaxValue}.", nameof(inputProjection));
        }

        return new RecurrenceSpec(cell, output, (int)batch, (int)steps, (int)hidden, (int[])lengths.Clone(), inputProjection.dtype, packed, valid, (int[]?)inputRows?.Clone());
    }

    private static void RequireCpu(Tensor tensor, string name, ScalarType dtype)
    {
        if (tensor.device_type != DeviceType.CPU)
        {
            throw new ArgumentException($"{name} is on {tensor.device}: the fused kernels run on CPU; use the libtorch composition on other devices (see FusedRecurrence.Supports).", name);
        }

        if (tensor.dtype != ScalarType.Float32 && tensor.dtype != ScalarType.Float64)
        {
            throw new ArgumentException($"{name} has dtype {tensor.dtype}: the fused kernels take Float32 or Float64.", name);
        }

        if (tensor.dtype != dtype)
        {
            throw new ArgumentException($"{name} has dtype {tensor.dtype}, unlike inputProjection ({dtype}): all tensors must share one dtype.", name);
        }
    }
}
