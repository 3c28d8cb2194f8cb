using Dien.Data.Batching;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Attention;

/// <summary>
/// Attention for rows that share histories (ranking: many candidates against one request's history), whichever form
/// the model uses: the MLP attention reads each history's keys where they are (<see cref="MlpAttention.ForwardShared"/>);
/// any other form reads them spread to the rows.
/// </summary>
internal static class SharedHistoryAttention
{
    /// <summary>Attention weights of each row against its history.</summary>
    /// <param name="attention">The model's attention module.</param>
    /// <param name="keys">The keys, [R, T, H], one row per history.</param>
    /// <param name="rows">The history each row reads.</param>
    /// <param name="target">Target ad e_a, [B, E], one per row.</param>
    /// <param name="mask">True at valid positions, bool [B, T], one row per row.</param>
    /// <returns>[B, T]; zero at padded positions and for empty rows.</returns>
    public static Tensor Weights(nn.Module<Tensor, Tensor, Tensor, Tensor> attention, Tensor keys, HistoryIndex rows, Tensor target, Tensor mask)
    {
        ArgumentNullException.ThrowIfNull(attention);
        ArgumentNullException.ThrowIfNull(rows);
        return attention is MlpAttention mlp
            ? mlp.ForwardShared(keys, rows, target, mask)
            : attention.call(rows.Spread(keys), target, mask);
    }
}
