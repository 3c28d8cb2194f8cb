using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.Recurrence;

/// <summary>
/// GRU-shaped recurrences whose forward and backward over all time steps each run as one fused CPU
/// kernel (<see cref="RecurrenceKernel{T}"/>) instead of dozens of libtorch calls per step. They take the
/// input projections of all steps precomputed by one libtorch matmul (x W_ih^T + b_ih), so autograd flows
/// into W_ih, b_ih and x through the gradient these functions return for <c>inputProjection</c>.
/// </summary>
/// <remarks>
/// CPU only, float32 or float64, contiguous or not (inputs are made contiguous). h_0 = 0. Row b runs its
/// first L_b = lengths[b] steps; later positions never change any output or gradient. The weight layout is
/// that of TorchSharp's GRU/GRUCell: weightHh [3H, H] with gate rows stacked (r, z|u, n|h~), biasHh [3H].
/// </remarks>
internal static class FusedRecurrence
{
    /// <summary>Plain GRU (TorchSharp layout r, z, n; h = (1 - z) * n + z * h_prev): every state.</summary>
    /// <param name="inputProjection">[B, T, 3H]: x W_ih^T + b_ih for every step.</param>
    /// <param name="weightHh">[3H, H].</param>
    /// <param name="biasHh">[3H], or null for a GRU without bias.</param>
    /// <param name="lengths">[B] host lengths, each in 0 .. T.</param>
    /// <returns>[B, T, H], zero at positions t &gt;= L_b.</returns>
    public static Tensor GruStates(Tensor inputProjection, Tensor weightHh, Tensor? biasHh, int[] lengths)
        => Run(RecurrentCell.Gru, RecurrentOutput.AllStates, inputProjection, null, weightHh, biasHh, lengths);

    /// <summary>Plain GRU: the state at each row's last valid step.</summary>
    /// <param name="inputProjection">[B, T, 3H].</param>
    /// <param name="weightHh">[3H, H].</param>
    /// <param name="biasHh">[3H], or null.</param>
    /// <param name="lengths">[B] host lengths, each in 0 .. T.</param>
    /// <returns>[B, H]; zero for a row with L_b = 0.</returns>
    public static Tensor GruFinalState(Tensor inputProjection, Tensor weightHh, Tensor? biasHh, int[] lengths)
        => Run(RecurrentCell.Gru, RecurrentOutput.FinalState, inputProjection, null, weightHh, biasHh, lengths);

    /// <summary>Attentional GRU (evolution layout r, u, h~, u the update gate): every state.</summary>
    /// <param name="inputProjection">[B, T, 3H].</param>
    /// <param name="attention">[B, T] attention scores a_t.</param>
    /// <param name="weightHh">[3H, H].</param>
    /// <param name="biasHh">[3H], or null.</param>
    /// <param name="lengths">[B] host lengths, each in 0 .. T.</param>
    /// <param name="cell">One of the attentional cells.</param>
    /// <returns>[B, T, H], zero at positions t &gt;= L_b.</returns>
    public static Tensor AttentionalStates(Tensor inputProjection, Tensor attention, Tensor weightHh, Tensor? biasHh, int[] lengths, RecurrentCell cell)
        => Run(RequireAttentional(cell), RecurrentOutput.AllStates, inputProjection, attention, weightHh, biasHh, lengths);

    /// <summary>Attentional GRU: the state at each row's last valid step (the final interest h'_T).</summary>
    /// <param name="inputProjection">[B, T, 3H].</param>
    /// <param name="attention">[B, T] attention scores a_t.</param>
    /// <param name="weightHh">[3H, H].</param>
    /// <param name="biasHh">[3H], or null.</param>
    /// <param name="lengths">[B] host lengths, each in 0 .. T.</param>
    /// <param name="cell">One of the attentional cells.</param>
    /// <returns>[B, H]; zero for a row with L_b = 0.</returns>
    public static Tensor AttentionalFinalState(Tensor inputProjection, Tensor attention, Tensor weightHh, Tensor? biasHh, int[] lengths, RecurrentCell cell)
        => Run(RequireAttentional(cell), RecurrentOutput.FinalState, inputProjection, attention, weightHh, biasHh, lengths);

    /// <summary>Whether the fused kernels can take these tensors (CPU, float32/float64); otherwise use the libtorch composition.</summary>
    public static bool Supports(Tensor inputProjection)
        => inputProjection.device_type == DeviceType.CPU
           && (inputProjection.dtype == ScalarType.Float32 || inputProjection.dtype == ScalarType.Float64);

    /// <summary>The general entry point behind the named ones.</summary>
    /// <param name="cell">The recurrent cell.</param>
    /// <param name="output">Every state, or the last valid one per row.</param>
    /// <param name="inputProjection">x W_ih^T + b_ih of every step: [B, T, 3H], or packed (below).</param>
    /// <param name="attention">[B, T] scores for the attentional cells, else null.</param>
    /// <param name="weightHh">U [3H, H].</param>
    /// <param name="biasHh">b_hh [3H], or null.</param>
    /// <param name="lengths">Valid steps per row.</param>
    /// <param name="packedSteps">Null: <paramref name="inputProjection"/> is [B, T, 3H]. Otherwise it is packed,
    /// [sum of lengths, 3H], the valid positions row after row (<see cref="ValidPositionProjection.Gather"/>), and this
    /// is T, the width of the states and the attention.</param>
    /// <param name="inputRows">Null: row b reads block b of <paramref name="inputProjection"/>. Otherwise the projection
    /// has one block per history, [R, T, 3H], and row b reads block inputRows[b]: candidates that share a history read
    /// its projection where it is, with no copy per row. Where a gradient is needed each row gets its own copy, so that
    /// autograd sums the rows' gradients into their history's block.</param>
    /// <exception cref="ArgumentException">A shape, device, dtype or length does not fit; the message names it.</exception>
    public static Tensor Run(RecurrentCell cell, RecurrentOutput output, Tensor inputProjection, Tensor? attention, Tensor weightHh, Tensor? biasHh, int[] lengths, int? packedSteps = null, int[]? inputRows = null)
    {
        var spec = RecurrenceSpec.Validate(cell, output, inputProjection, attention, weightHh, biasHh, lengths, packedSteps, inputRows);
        bool needsGrad = torch.is_grad_enabled()
            && (inputProjection.requires_grad || weightHh.requires_grad || (attention?.requires_grad ?? false) || (biasHh?.requires_grad ?? false));
        if (!needsGrad)
        {
            return RecurrenceFunction.Inference(spec, inputProjection, attention, weightHh, biasHh);
        }

        if (inputRows is not null)
        {
            using var index = torch.tensor(Array.ConvertAll(inputRows, r => (long)r));
            return Run(cell, output, inputProjection.index_select(0, index), attention, weightHh, biasHh, lengths);
        }

        return RecurrenceFunction.apply(inputProjection, attention!, weightHh, biasHh!, spec);
    }

    private static RecurrentCell RequireAttentional(RecurrentCell cell)
        => cell is RecurrentCell.Gru or RecurrentCell.UpdateGateGru || !Enum.IsDefined(cell)
            ? throw new ArgumentException($"cell = {cell}: an attentional cell (AugruPaper, AugruAuthorsCode, Agru) is required here; use Run(RecurrentCell.{cell}, ...) or GruStates/GruFinalState for a plain GRU.", nameof(cell))
            : cell;
}
