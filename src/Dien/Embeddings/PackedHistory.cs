using Dien.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Embeddings;

/// <summary>
/// A batch's valid behaviours packed row after row (row b's first lengths[b] positions, then row b + 1's), as
/// packed sequences hold them: what the lookup, the extractor's input projection and the auxiliary loss read, so
/// that none of them pays for padding.
/// </summary>
/// <param name="Behaviours">e_t at the valid positions, [N, E], N the sum of the lengths.</param>
/// <param name="Negatives">The sampled negatives at the valid positions, [N, E]; null unless looked up.</param>
/// <param name="Positions">Where each packed position sits in the padded layout: b * T + t, int64 [N].</param>
/// <param name="RowOfPosition">The row b of each packed position, int64 [N].</param>
/// <param name="Lengths">Valid lengths per row, on the host.</param>
/// <param name="Width">The padded width T.</param>
internal sealed record PackedHistory(Tensor Behaviours, Tensor? Negatives, Tensor Positions, Tensor RowOfPosition, int[] Lengths, long Width)
{
    /// <summary>Number of rows B.</summary>
    public long Size => Lengths.Length;

    /// <summary>Packed vectors [N, E] laid out padded, [B, T, E], zero at padded positions.</summary>
    /// <param name="packed">One vector per valid position, in <see cref="Positions"/> order.</param>
    public Tensor Pad(Tensor packed)
        => zeros(new[] { Size * Width, packed.size(1) }, dtype: packed.dtype, device: packed.device)
            .index_copy(0, Positions, packed)
            .view(Size, Width, packed.size(1));

    /// <summary>Each row's sum of its packed vectors, [B, E] (zero for an empty row).</summary>
    /// <param name="packed">One vector per valid position, in <see cref="Positions"/> order.</param>
    /// <remarks>
    /// One row (a single scored history) sums along the positions: index_add costs about 14 µs over one history's 27
    /// positions where the sum costs 3, a part of a batch-1 call worth keeping. The two agree to float rounding.
    /// </remarks>
    public Tensor SumRows(Tensor packed)
        => Size == 1
            ? packed.sum(0, keepdim: true)
            : zeros(new[] { Size, packed.size(1) }, dtype: packed.dtype, device: packed.device).index_add(0, RowOfPosition, packed, HeldScalars.One);
}
