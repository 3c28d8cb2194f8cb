using Microsoft.Extensions.Logging;

namespace Dien.Data.Batching;

/// <summary>
/// Turns a stream of <see cref="Sample"/>s into <see cref="BatchArrays"/>: histories left-aligned, oldest
/// first, padded with 0 to the longest history of the batch (not a global maximum), truncated to the most
/// recent <see cref="BatcherOptions.MaxHistoryLength"/> behaviours.
/// </summary>
/// <remarks>
/// Streams: at most <c>BufferBatches * BatchSize</c> samples are held at once. Each batch is built
/// straight into its flat arrays, its histories packed: the padded arrays are laid out when a caller first reads
/// one (<see cref="BatchArrays"/>). Not thread-safe; one enumeration at a time.
/// </remarks>
public sealed class Batcher
{
    private readonly BatcherOptions _options;
    private bool _truncationReported;

    /// <summary>Creates a batcher.</summary>
    /// <param name="options">The options (validated here).</param>
    public Batcher(BatcherOptions? options = null)
    {
        // A copy: changes the caller makes to its options later do not reach batches already promised.
        _options = options?.Clone() ?? new BatcherOptions();
        _options.EnsureValid();
    }

    /// <summary>Samples whose history was truncated so far.</summary>
    public long TruncatedSamples { get; private set; }

    /// <summary>Samples dropped for an empty history so far (when <see cref="BatcherOptions.KeepEmptyHistories"/> is false).</summary>
    public long DroppedEmptyHistories { get; private set; }

    /// <summary>
    /// Cuts <paramref name="samples"/> into batches. With <see cref="BatcherOptions.Shuffle"/>, a list held in
    /// memory (<see cref="IReadOnlyList{T}"/>) is first read in a seeded random order over the whole list, as
    /// the authors shuffle their whole training file every epoch; a lazy stream is shuffled only inside the buffer.
    /// </summary>
    /// <param name="samples">A list, or any stream of samples (read lazily).</param>
    /// <exception cref="ArgumentException">A sample whose item and category histories differ in length, or whose extra-field count differs from the first sample's.</exception>
    public IEnumerable<BatchArrays> Batches(IEnumerable<Sample> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var random = new Random(_options.Seed);
        int capacity = _options.BufferBatches * _options.BatchSize;
        var buffer = new List<Sample>(Math.Min(capacity, 1 << 16));
        foreach (var sample in _options.Shuffle && samples is IReadOnlyList<Sample> list ? InRandomOrder(list, random) : samples)
        {
            if (sample.HistoryLength == 0 && !_options.KeepEmptyHistories)
            {
                DroppedEmptyHistories++;
                continue;
            }

            buffer.Add(sample);
            if (buffer.Count == capacity)
            {
                foreach (var batch in Flush(buffer, random))
                {
                    yield return batch;
                }
            }
        }

        foreach (var batch in Flush(buffer, random))
        {
            yield return batch;
        }
    }

    /// <summary>
    /// The list in a seeded random order. Files like the authors' list each user's samples together, so a
    /// shuffle inside a buffer of a few thousand samples would leave every batch to a handful of users: their
    /// correlated gradients cost 0.11-0.14 test AUC on Amazon Beauty, BaseModel, DIN and DIEN alike (seed 1, docs/research/quality-history.md).
    /// </summary>
    private static IEnumerable<Sample> InRandomOrder(IReadOnlyList<Sample> list, Random random)
    {
        var order = new int[list.Count];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        random.Shuffle(order);
        foreach (int i in order)
        {
            yield return list[i];
        }
    }

    /// <summary>Builds one batch from <paramref name="rows"/> (no shuffling), e.g. for inference.</summary>
    /// <param name="rows">The samples, one per row.</param>
    /// <param name="random">Draws for the negative sampler; null uses a generator seeded by <see cref="BatcherOptions.Seed"/>.</param>
    public BatchArrays Build(IReadOnlyList<Sample> rows, Random? random = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        random ??= new Random(_options.Seed);
        int size = rows.Count;
        int max = _options.MaxHistoryLength;
        int width = 0;
        int fields = size == 0 ? 0 : rows[0].ExtraFields?.Length ?? 0;
        for (int b = 0; b < size; b++)
        {
            var s = rows[b];
            if (s.HistoryCategories.Length != s.HistoryItems.Length)
            {
                throw new ArgumentException(
                    $"Sample at row {b} (user {s.User}) has {s.HistoryItems.Length} history items but {s.HistoryCategories.Length} history categories.", nameof(rows));
            }

            if ((s.ExtraFields?.Length ?? 0) != fields)
            {
                throw new ArgumentException($"Sample at row {b} (user {s.User}) has {s.ExtraFields?.Length ?? 0} extra fields; the batch has {fields}.", nameof(rows));
            }

            if (s.HistoryLength > max)
            {
                TruncatedSamples++;
                if (!_truncationReported)
                {
                    _truncationReported = true;
                    _options.Logger?.LogInformation(
                        "History of user {User} has {Length} behaviours; histories longer than {Max} keep their {Max} most recent (reported once; see {Counter}).",
                        s.User, s.HistoryLength, max, max, nameof(TruncatedSamples));
                }
            }

            width = Math.Max(width, Math.Min(s.HistoryLength, max));
        }

        // The histories are packed (valid positions only, row after row); BatchArrays lays out the padded
        // [B * T] arrays only if a caller reads them.
        var lengths = new int[size];
        int valid = 0;
        for (int b = 0; b < size; b++)
        {
            lengths[b] = Math.Min(rows[b].HistoryLength, max);
            valid += lengths[b];
        }

        var users = new long[size];
        var groups = new long[size];
        var targets = new long[size];
        var targetCats = new long[size];
        var labels = new float[size];
        var items = new long[valid];
        var cats = new long[valid];
        var historyLabels = _options.IncludeHistoryLabels ? new float[valid] : null;
        var extra = fields > 0 ? new long[size * fields] : null;
        int offset = 0;
        for (int b = 0; b < size; b++)
        {
            var s = rows[b];
            users[b] = s.User;
            groups[b] = s.Group ?? s.User;
            targets[b] = s.TargetItem;
            targetCats[b] = s.TargetCategory;
            labels[b] = s.Label;
            int length = lengths[b];
            int skip = s.HistoryLength - length;
            Array.Copy(s.HistoryItems, skip, items, offset, length);
            Array.Copy(s.HistoryCategories, skip, cats, offset, length);
            if (historyLabels is not null && s.HistoryLabels is not null)
            {
                Array.Copy(s.HistoryLabels, skip, historyLabels, offset, length);
            }

            if (extra is not null)
            {
                Array.Copy(s.ExtraFields!, 0, extra, b * fields, fields);
            }

            offset += length;
        }

        long[]? negItems = null, negCats = null;
        if (_options.NegativeSampler is { } sampler)
        {
            negItems = new long[valid];
            negCats = new long[valid];
            sampler.FillPacked(items, negItems, negCats, random);
        }

        return new BatchArrays(new PackedHistories(items, cats, negItems, negCats, historyLabels))
        {
            Size = size,
            Width = width,
            UserIds = users,
            GroupIds = groups,
            TargetItems = targets,
            TargetCategories = targetCats,
            Lengths = lengths,
            Labels = labels,
            ExtraFieldCount = fields,
            ExtraFields = extra,
        };
    }

    private List<BatchArrays> Flush(List<Sample> buffer, Random random)
    {
        if (_options.Shuffle)
        {
            Shuffle(buffer, random);
        }

        if (_options.BucketByLength)
        {
            // Stable sort keeps the shuffled order inside equal lengths.
            var sorted = buffer.OrderBy(s => Math.Min(s.HistoryLength, _options.MaxHistoryLength)).ToList();
            buffer.Clear();
            buffer.AddRange(sorted);
        }

        var batches = new List<BatchArrays>();
        for (int start = 0; start < buffer.Count; start += _options.BatchSize)
        {
            int count = Math.Min(_options.BatchSize, buffer.Count - start);
            batches.Add(Build(buffer.GetRange(start, count), random));
        }

        if (_options.Shuffle)
        {
            Shuffle(batches, random);
        }

        buffer.Clear();
        return batches;
    }

    private static void Shuffle<T>(List<T> list, Random random)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }
}
