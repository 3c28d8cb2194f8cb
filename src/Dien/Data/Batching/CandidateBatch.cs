using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Data.Batching;

/// <summary>
/// A ranking call on a device: the histories as a batch of their own (embedded and encoded once each) and the
/// candidates, each reading its history through <see cref="Index"/>. Owns its tensors: dispose it when done.
/// </summary>
internal sealed class CandidateBatch : IDisposable
{
    /// <summary>Validates <paramref name="arrays"/> and copies them into tensors on <paramref name="device"/>.</summary>
    /// <param name="arrays">The host-side call; kept by reference, do not change it afterwards.</param>
    /// <param name="device">Where the tensors live; CPU when null.</param>
    /// <exception cref="ArgumentException">The arrays are inconsistent.</exception>
    public CandidateBatch(CandidateArrays arrays, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(arrays);
        arrays.Validate();
        Arrays = arrays;
        Device = device ?? CPU;
        Histories = new BehaviourBatch(arrays.Histories, Device);
        CandidateItems = tensor(arrays.CandidateItems, device: Device).DetachFromDisposeScope();
        CandidateCategories = tensor(arrays.CandidateCategories, device: Device).DetachFromDisposeScope();
        Index = HistoryIndex.Of(arrays.HistoryOfCandidate, arrays.Histories.Size, Device);
    }

    /// <summary>The host-side arrays.</summary>
    public CandidateArrays Arrays { get; }

    /// <summary>The device of every tensor.</summary>
    public Device Device { get; }

    /// <summary>The histories, one row per request (their targets are unused).</summary>
    public BehaviourBatch Histories { get; }

    /// <summary>Candidate item ids, int64 [K].</summary>
    public Tensor CandidateItems { get; }

    /// <summary>Candidate category ids, int64 [K].</summary>
    public Tensor CandidateCategories { get; }

    /// <summary>The history each candidate row reads.</summary>
    public HistoryIndex Index { get; }

    /// <summary>Number of candidates K.</summary>
    public int Size => Arrays.Size;

    /// <inheritdoc />
    public void Dispose()
    {
        Histories.Dispose();
        CandidateItems.Dispose();
        CandidateCategories.Dispose();
        Index.Dispose();
    }
}
