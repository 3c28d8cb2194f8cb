using Dien.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Data.Batching;

/// <summary>
/// Which history each scored row reads. In a training or evaluation batch every row has its own history
/// (<see cref="Identity"/>); when ranking, many candidate rows share one request's history, which is encoded once and
/// spread to its candidates (a broadcast view for one request, a gather for several).
/// </summary>
internal sealed class HistoryIndex : IDisposable
{
    private readonly Tensor? _index;
    private readonly int[]? _historyOfRow;

    private HistoryIndex(int[]? historyOfRow, int histories, Tensor? index)
    {
        _historyOfRow = historyOfRow;
        Histories = histories;
        _index = index;
    }

    /// <summary>Every row reads its own history: spreading changes nothing.</summary>
    public static HistoryIndex Identity { get; } = new(null, 0, null);

    /// <summary>Whether every row reads its own history.</summary>
    public bool IsIdentity => _historyOfRow is null;

    /// <summary>Number of histories R (0 for <see cref="Identity"/>, where it is the row count).</summary>
    public int Histories { get; }

    /// <summary>The history each row reads, 0 .. <see cref="Histories"/> - 1; null for <see cref="Identity"/>. Not to be written.</summary>
    public int[]? HistoryOfRow => _historyOfRow;

    /// <summary>Rows K that read the histories (0 for <see cref="Identity"/>).</summary>
    public int Rows => _historyOfRow?.Length ?? 0;

    /// <summary>The index of rows that read histories <c>historyOfRow[k]</c> of <paramref name="histories"/>.</summary>
    /// <param name="historyOfRow">The history of each row, each in 0 .. <paramref name="histories"/> - 1.</param>
    /// <param name="histories">Number of histories R.</param>
    /// <param name="device">Where the gather index lives (only built for more than one history).</param>
    public static HistoryIndex Of(int[] historyOfRow, int histories, Device device)
    {
        ArgumentNullException.ThrowIfNull(historyOfRow);
        // One history: a broadcast view (expand) needs no index and copies nothing.
        var index = histories == 1 ? null : tensor(Array.ConvertAll(historyOfRow, h => (long)h), device: device).DetachFromDisposeScope();
        return new HistoryIndex(historyOfRow, histories, index);
    }

    /// <summary>A per-history tensor [R, ...] as one per row [K, ...]; the same tensor for <see cref="Identity"/>.</summary>
    /// <param name="perHistory">One entry per history along dimension 0.</param>
    public Tensor Spread(Tensor perHistory)
    {
        ArgumentNullException.ThrowIfNull(perHistory);
        if (IsIdentity)
        {
            return perHistory;
        }

        if (_index is null)
        {
            var shape = Sizes.Of(perHistory);
            shape[0] = Rows;
            return perHistory.expand(shape);
        }

        return perHistory.index_select(0, _index);
    }

    /// <summary>A per-history tensor spread to the rows, or null.</summary>
    /// <param name="perHistory">One entry per history along dimension 0, or null.</param>
    public Tensor? SpreadOrNull(Tensor? perHistory) => perHistory is null ? null : Spread(perHistory);

    /// <summary>Per-history host values (such as lengths) as one per row; the same array for <see cref="Identity"/>.</summary>
    /// <param name="perHistory">One value per history.</param>
    public int[] Spread(int[] perHistory)
    {
        ArgumentNullException.ThrowIfNull(perHistory);
        return _historyOfRow is null ? perHistory : Array.ConvertAll(_historyOfRow, h => perHistory[h]);
    }

    /// <inheritdoc />
    public void Dispose() => _index?.Dispose();
}
