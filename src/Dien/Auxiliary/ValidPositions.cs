using static TorchSharp.torch;

namespace Dien.Auxiliary;

/// <summary>
/// Flat indices (b * T + t) of the positions a loss counts, read once from the mask on the host, so a loss
/// gathers exactly its valid rows instead of scoring padded ones and masking them afterwards.
/// </summary>
internal static class ValidPositions
{
    /// <summary>Every valid position.</summary>
    /// <param name="mask">bool [B, T].</param>
    public static Tensor All(Tensor mask) => Collect(mask, withNext: false);

    /// <summary>Positions t whose next position t + 1 is valid too: the pairs (h_t, e_{t+1}).</summary>
    /// <param name="mask">bool [B, T].</param>
    public static Tensor WithNext(Tensor mask) => Collect(mask, withNext: true);

    private static Tensor Collect(Tensor mask, bool withNext)
    {
        long steps = mask.shape[1];
        bool[] valid = mask.to(CPU).data<bool>().ToArray();
        var indices = new List<long>(valid.Length);
        for (long i = 0; i < valid.Length; i++)
        {
            if (valid[i] && (!withNext || ((i % steps) + 1 < steps && valid[i + 1])))
            {
                indices.Add(i);
            }
        }

        return tensor(indices.ToArray(), dtype: ScalarType.Int64, device: mask.device);
    }
}
