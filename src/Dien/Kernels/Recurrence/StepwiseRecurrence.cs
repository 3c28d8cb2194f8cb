using Dien.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.Recurrence;

/// <summary>
/// The libtorch composition of every recurrence, one time step at a time, written from the equations of
/// the paper's interest evolving layer (its AUGRU, AGRU, AIGRU and GRU cells). It runs on any device (it is the
/// CUDA path) and is the oracle every fused CPU kernel (<see cref="FusedRecurrence"/>) is tested against, so it lives
/// beside them.
/// </summary>
internal static class StepwiseRecurrence
{
    /// <summary>Runs <paramref name="cell"/> over the first max(lengths) steps.</summary>
    /// <param name="cell">The recurrence.</param>
    /// <param name="output">Every state, or the state at each row's last valid step.</param>
    /// <param name="inputProjection">[B, T, 3H]: x W_ih^T + b_ih for every step.</param>
    /// <param name="attention">[B, T] for the attentional cells; null for the plain ones.</param>
    /// <param name="weightHh">[3H, H].</param>
    /// <param name="biasHh">[3H], or null.</param>
    /// <param name="lengths">[B] host lengths, each in 0 .. T.</param>
    /// <returns>[B, T, H] (zero at padding) or [B, H] (zero for an empty row).</returns>
    public static Tensor Run(RecurrentCell cell, RecurrentOutput output, Tensor inputProjection, Tensor? attention, Tensor weightHh, Tensor? biasHh, int[] lengths)
    {
        if (output == RecurrentOutput.PackedStates)
        {
            throw new ArgumentException("output = PackedStates: the step-by-step composition returns padded states (AllStates); pack them with the valid positions.", nameof(output));
        }

        using var scope = NewDisposeScope();
        long batch = inputProjection.size(0), steps = inputProjection.size(1), hidden = weightHh.size(1);
        int last = lengths.Length == 0 ? 0 : (int)Math.Min(steps, lengths.Max());
        var lengthTensor = tensor(lengths.Select(l => (long)l).ToArray(), device: inputProjection.device);
        // Positions from host longs: arange takes its bounds as temporary scalars (Runtime/HeldArithmetic).
        var positions = tensor(Enumerable.Range(0, (int)steps).Select(i => (long)i).ToArray(), device: inputProjection.device);
        var valid = positions.unsqueeze(0).lt(lengthTensor.unsqueeze(1)); // [B, T]
        var h = zeros(new[] { batch, hidden }, dtype: inputProjection.dtype, device: inputProjection.device);
        var states = new List<Tensor>();
        for (long t = 0; t < last; t++)
        {
            var projected = nn.functional.linear(h, weightHh, biasHh).chunk(3, -1);
            var x = inputProjection.select(1, t).chunk(3, -1);
            var r = sigmoid(x[0].Plus(projected[0]));
            var second = sigmoid(x[1].Plus(projected[1]));
            var candidate = tanh(x[2].Plus(r * projected[2]));
            // Every cell blends as next = k h + g c, with its own weight k on the old state and g on the candidate.
            var (keepOld, takeNew) = cell switch
            {
                // TorchSharp's GRU convention: the second gate z keeps the old state.
                RecurrentCell.Gru => Keep(second),
                // The evolution cell's convention: the second gate u moves towards the candidate.
                RecurrentCell.UpdateGateGru => Update(second),
                // Paper: the attention scales the update gate u.
                RecurrentCell.AugruPaper => Update(AttentionAt(t) * second),
                // Authors' code: the attention scales the keep gate k = 1 - u.
                RecurrentCell.AugruAuthorsCode => Keep(AttentionAt(t).OneMinus() * second.OneMinus()),
                _ => Update(AttentionAt(t)),
            };
            var next = (keepOld * h).Plus(takeNew * candidate);

            var inRow = valid.select(1, t).unsqueeze(1);
            h = where(inRow, next, h);
            if (output == RecurrentOutput.AllStates)
            {
                states.Add(where(inRow, next, zeros_like(next)));
            }
        }

        if (output == RecurrentOutput.FinalState)
        {
            return h.MoveToOuterDisposeScope();
        }

        var all = states.Count == 0 ? zeros(new[] { batch, 0, hidden }, dtype: h.dtype, device: h.device) : stack(states, 1);
        if (last < steps)
        {
            all = nn.functional.pad(all, new long[] { 0, 0, 0, steps - last });
        }

        return all.MoveToOuterDisposeScope();

        Tensor AttentionAt(long t) => attention!.select(1, t).unsqueeze(1);
    }

    /// <summary>The blend weights (k, g) of a cell whose weight on the candidate is <paramref name="update"/>: (1 - g, g).</summary>
    private static (Tensor Keep, Tensor Update) Update(Tensor update) => (update.OneMinus(), update);

    /// <summary>The blend weights (k, g) of a cell whose weight on the old state is <paramref name="keep"/>: (k, 1 - k).</summary>
    private static (Tensor Keep, Tensor Update) Keep(Tensor keep) => (keep, keep.OneMinus());
}
