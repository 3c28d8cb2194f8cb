using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Data.Batching;

/// <summary>
/// A batch on a device: the tensors a model reads, built once from <see cref="BatchArrays"/>, which it
/// keeps for host-side checks and lengths (so no model ever has to read a tensor back to the host).
/// Owns its tensors: dispose it when done.
/// </summary>
/// <remarks>
/// The models look up the history at its valid positions only, which the constructor copies packed; the padded
/// [B, T] history tensors (<see cref="HistoryItems"/> and the rest) are made on their first read, for code that
/// takes padded input. Reading them after <see cref="Dispose"/> throws <see cref="ObjectDisposedException"/>.
/// </remarks>
public sealed class BehaviourBatch : IDisposable
{
    private readonly object _gate = new();
    private Tensor? _historyItems, _historyCategories, _negativeItems, _negativeCategories, _historyLabels;
    private bool _disposed;

    /// <summary>Validates <paramref name="arrays"/> and copies them into tensors on <paramref name="device"/>.</summary>
    /// <param name="arrays">The host-side batch; kept by reference, do not change it afterwards.</param>
    /// <param name="device">Where the tensors live; CPU when null.</param>
    /// <exception cref="ArgumentException">The arrays are inconsistent (see <see cref="BatchArrays.Validate"/>).</exception>
    public BehaviourBatch(BatchArrays arrays, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(arrays);
        arrays.Validate();
        Arrays = arrays;
        Device = device ?? CPU;
        int b = arrays.Size;
        int t = arrays.Width;
        MaxLength = arrays.MaxLength;

        UserIds = Ids(arrays.UserIds, b);
        TargetItems = Ids(arrays.TargetItems, b);
        TargetCategories = Ids(arrays.TargetCategories, b);
        // The models read the history columns at the valid positions only; the padded [B, T] tensors are made on first read.
        long valid = ValidPositions.Count(arrays.Lengths);
        ValidHistoryItems = Ids(arrays.ValidHistoryItems(), valid);
        ValidHistoryCategories = Ids(arrays.ValidHistoryCategories(), valid);
        Lengths = Ids(Array.ConvertAll(arrays.Lengths, l => (long)l), b);

        var mask = new bool[(long)b * t];
        for (int row = 0; row < b; row++)
        {
            Array.Fill(mask, true, row * t, arrays.Lengths[row]);
        }

        Mask = Copy(mask, ScalarType.Bool, b, t);
        Labels = arrays.Labels is null ? null : Copy(arrays.Labels, ScalarType.Float32, b);
        if (arrays.HasNegatives)
        {
            ValidNegativeItems = Ids(arrays.ValidNegativeItems()!, valid);
            ValidNegativeCategories = Ids(arrays.ValidNegativeCategories()!, valid);
        }

        ExtraFields = arrays.ExtraFields is null ? null : Ids(arrays.ExtraFields, b, arrays.ExtraFieldCount);
        var positions = ValidPositions.Positions(arrays.Lengths, t);
        ValidPositionIds = Ids(positions, positions.LongLength);
        ValidPositionRows = Ids(ValidPositions.Rows(arrays.Lengths), positions.LongLength);
    }

    /// <summary>The host-side arrays this batch was built from.</summary>
    public BatchArrays Arrays { get; }

    /// <summary>The device of every tensor.</summary>
    public Device Device { get; }

    /// <summary>Number of rows B.</summary>
    public int Size => Arrays.Size;

    /// <summary>Padded history width T.</summary>
    public int Width => Arrays.Width;

    /// <summary>The longest valid history length in the batch (a recurrent loop need not go further).</summary>
    public int MaxLength { get; }

    /// <summary>User ids, int64 [B].</summary>
    public Tensor UserIds { get; }

    /// <summary>Target item ids, int64 [B].</summary>
    public Tensor TargetItems { get; }

    /// <summary>Target category ids, int64 [B].</summary>
    public Tensor TargetCategories { get; }

    /// <summary>History item ids, int64 [B, T], left-aligned, oldest first.</summary>
    public Tensor HistoryItems => OnFirstRead(ref _historyItems, () => Ids(Arrays.HistoryItems, Size, Width));

    /// <summary>History category ids, int64 [B, T].</summary>
    public Tensor HistoryCategories => OnFirstRead(ref _historyCategories, () => Ids(Arrays.HistoryCategories, Size, Width));

    /// <summary>Valid lengths, int64 [B].</summary>
    public Tensor Lengths { get; }

    /// <summary>True at valid history positions, bool [B, T].</summary>
    public Tensor Mask { get; }

    /// <summary>Click labels, float32 [B]; null at inference.</summary>
    public Tensor? Labels { get; }

    /// <summary>Sampled negative item ids, int64 [B, T]; slot t is the negative for the behaviour at t.</summary>
    public Tensor? NegativeItems => !Arrays.HasNegatives ? null : OnFirstRead(ref _negativeItems, () => Ids(Arrays.NegativeItems!, Size, Width));

    /// <summary>Categories of the sampled negatives, int64 [B, T].</summary>
    public Tensor? NegativeCategories => !Arrays.HasNegatives ? null : OnFirstRead(ref _negativeCategories, () => Ids(Arrays.NegativeCategories!, Size, Width));

    /// <summary>Per-position 0/1 labels for the labelled-history auxiliary loss, float32 [B, T].</summary>
    public Tensor? HistoryLabels => Arrays.HasHistoryLabels ? OnFirstRead(ref _historyLabels, () => Copy(Arrays.HistoryLabels!, ScalarType.Float32, Size, Width)) : null;

    /// <summary>Extra field ids, int64 [B, F]; null when there are none.</summary>
    public Tensor? ExtraFields { get; }

    /// <summary>
    /// The flat positions b * T + t of the valid history positions, row after row, int64 [sum of lengths]: how
    /// packed sequences index the padded tensors (built here, on the batching thread, not in the model's step).
    /// </summary>
    internal Tensor ValidPositionIds { get; }

    /// <summary>The row b of each of <see cref="ValidPositionIds"/>, int64 [sum of lengths].</summary>
    internal Tensor ValidPositionRows { get; }

    /// <summary>History item ids at the valid positions, row after row, int64 [sum of lengths].</summary>
    internal Tensor ValidHistoryItems { get; }

    /// <summary>History category ids at the valid positions, row after row, int64 [sum of lengths].</summary>
    internal Tensor ValidHistoryCategories { get; }

    /// <summary>Sampled negative items at the valid positions, row after row, int64 [sum of lengths]; null when the batch has none.</summary>
    internal Tensor? ValidNegativeItems { get; }

    /// <summary>Categories of <see cref="ValidNegativeItems"/>, int64 [sum of lengths].</summary>
    internal Tensor? ValidNegativeCategories { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        lock (_gate)
        {
            _disposed = true;
        }

        foreach (var t in new[]
        {
            UserIds, TargetItems, TargetCategories, Lengths, Mask, Labels, ExtraFields, ValidPositionIds, ValidPositionRows,
            ValidHistoryItems, ValidHistoryCategories, ValidNegativeItems, ValidNegativeCategories,
            _historyItems, _historyCategories, _negativeItems, _negativeCategories, _historyLabels,
        })
        {
            t?.Dispose();
        }
    }

    /// <summary>A padded tensor, made on its first read (under a lock: a batch may be read from several threads).</summary>
    /// <exception cref="ObjectDisposedException">The batch was disposed.</exception>
    private Tensor OnFirstRead(ref Tensor? field, Func<Tensor> make)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return field ??= make();
        }
    }

    private Tensor Ids(long[] data, params long[] shape) => Copy(data, ScalarType.Int64, shape);

    // torch.tensor(array, shape) copies element by element (about 20 ns an element: 0.3 ms for 128 x 100 ids, four
    // such arrays a batch); one span copy into fresh CPU memory costs a memcpy. Other devices get a copy of that.
    private Tensor Copy<T>(T[] data, ScalarType type, params long[] shape)
        where T : unmanaged
    {
        var values = empty(shape, type);
        MemoryMarshal.AsBytes(data.AsSpan()).CopyTo(values.bytes);
        if (Device.type == DeviceType.CPU)
        {
            return Own(values);
        }

        using (values)
        {
            return Own(values.to(Device));
        }
    }

    // A batch may be built inside someone's dispose scope; it owns its tensors, so take them out of it.
    private static Tensor Own(Tensor t) => t.DetachFromDisposeScope();
}
