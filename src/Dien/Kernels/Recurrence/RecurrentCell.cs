namespace Dien.Kernels.Recurrence;

/// <summary>
/// The recurrences the fused kernels run. Every one is written h = h_prev + m * (c - h_prev) with the
/// candidate c and a per-unit "move" fraction m; they differ only in m.
/// </summary>
internal enum RecurrentCell
{
    /// <summary>TorchSharp/PyTorch GRU, rows (r, z, n): m = 1 - z (z is the keep gate), c = n.</summary>
    Gru,

    /// <summary>
    /// Plain GRU in the evolution layout, rows (r, u, h~) with u the update gate: m = u, so
    /// h = (1 - u) * h_prev + u * h~ (the mirror of <see cref="Gru"/>'s keep gate). For AIGRU and the GRU
    /// ablation when they run on the evolution cell's parameters.
    /// </summary>
    UpdateGateGru,

    /// <summary>AUGRU, paper form, rows (r, u, h~): m = a * u.</summary>
    AugruPaper,

    /// <summary>AUGRU, the authors' code: k~ = (1 - a) * (1 - u), m = 1 - k~.</summary>
    AugruAuthorsCode,

    /// <summary>AGRU: m = a (the update gate is computed but unused).</summary>
    Agru,
}

/// <summary>Which states a fused recurrence returns.</summary>
internal enum RecurrentOutput
{
    /// <summary>Every state, [B, T, H], zero at positions t &gt;= L_b.</summary>
    AllStates,

    /// <summary>The state at position L_b (the last valid step), [B, H]; zero for a row with L_b = 0.</summary>
    FinalState,

    /// <summary>
    /// Every valid state packed row after row, [sum of lengths, H], as the packed input projection it needs: what
    /// reads the states next (attention, evolution, the auxiliary loss) then pays nothing for padding.
    /// </summary>
    PackedStates,
}
