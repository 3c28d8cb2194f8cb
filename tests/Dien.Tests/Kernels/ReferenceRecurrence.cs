using Dien.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Tests.Kernels;

/// <summary>
/// The straightforward libtorch composition of each recurrence, one step at a time, written from the
/// equations of DESIGN.md section 5 (not from the fused kernels' algebra). The fused kernels must match it.
/// </summary>
internal static class ReferenceRecurrence
{
    public static Tensor Run(RecurrentCell cell, RecurrentOutput output, Tensor xProj, Tensor? attention, Tensor weightHh, Tensor? biasHh, int[] lengths)
    {
        using var scope = NewDisposeScope();
        long batch = xProj.shape[0], steps = xProj.shape[1], hidden = weightHh.shape[1];
        var lengthTensor = tensor(lengths.Select(l => (long)l).ToArray(), device: xProj.device);
        var valid = arange(steps, device: xProj.device).unsqueeze(0).lt(lengthTensor.unsqueeze(1)); // [B, T]
        var h = zeros(new[] { batch, hidden }, dtype: xProj.dtype, device: xProj.device);
        var states = new List<Tensor>();
        for (long t = 0; t < steps; t++)
        {
            var hidden3 = h.matmul(weightHh.t());
            if (biasHh is not null)
            {
                hidden3 = hidden3 + biasHh;
            }

            var x = xProj.select(1, t).chunk(3, -1);
            var g = hidden3.chunk(3, -1);
            var r = sigmoid(x[0] + g[0]);
            var second = sigmoid(x[1] + g[1]);
            var candidate = tanh(x[2] + (r * g[2]));
            Tensor next;
            if (cell == RecurrentCell.Gru)
            {
                // PyTorch's convention: the second gate z keeps the old state.
                next = ((1 - second) * candidate) + (second * h);
            }
            else if (cell == RecurrentCell.UpdateGateGru)
            {
                // The paper's convention: the second gate u moves towards the candidate.
                next = ((1 - second) * h) + (second * candidate);
            }
            else
            {
                var a = attention!.select(1, t).unsqueeze(1);
                next = cell switch
                {
                    RecurrentCell.AugruPaper => ((1 - (a * second)) * h) + (a * second * candidate),
                    RecurrentCell.AugruAuthorsCode => ((1 - a) * (1 - second) * h) + ((1 - ((1 - a) * (1 - second))) * candidate),
                    _ => ((1 - a) * h) + (a * candidate),
                };
            }

            var keep = valid.select(1, t).unsqueeze(1);
            h = where(keep, next, h);
            states.Add(where(keep, next, zeros_like(next)));
        }

        var result = output == RecurrentOutput.AllStates ? stack(states, 1) : h;
        return result.MoveToOuterDisposeScope();
    }
}
