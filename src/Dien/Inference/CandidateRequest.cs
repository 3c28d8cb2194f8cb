using Dien.Data.Batching;

namespace Dien.Inference;

/// <summary>
/// One user's scoring request: the history and the candidates to score against it, and how requests become one
/// ranking call (each history once, <see cref="ToCandidates"/>) or the rows of one batch (each candidate a row
/// carrying its user's whole history, <see cref="ToBatch"/>).
/// </summary>
internal sealed record CandidateRequest(
    long UserId, long[] HistoryItems, long[] HistoryCategories, long[] CandidateItems, long[] CandidateCategories, long[] ExtraFields)
{
    /// <summary>One row per candidate.</summary>
    public int Rows => CandidateItems.Length;

    /// <summary>
    /// A request from a caller's lists (copied, so the caller may reuse them); null extra fields mean none. With
    /// <paramref name="maxHistory"/>, only the most recent behaviours are kept, as training kept them.
    /// </summary>
    public static CandidateRequest From(
        long userId,
        IReadOnlyList<long> historyItems,
        IReadOnlyList<long> historyCategories,
        IReadOnlyList<long> candidateItems,
        IReadOnlyList<long> candidateCategories,
        IReadOnlyList<long>? extraFields,
        int? maxHistory = null)
    {
        int skip = maxHistory is { } cut && historyItems.Count > cut ? historyItems.Count - cut : 0;
        return new(userId, historyItems.Skip(skip).ToArray(), historyCategories.Skip(skip).ToArray(), candidateItems.ToArray(), candidateCategories.ToArray(),
            extraFields?.ToArray() ?? Array.Empty<long>());
    }

    /// <summary>
    /// The batch with every row's history cut to its <paramref name="maxHistory"/> most recent behaviours (the same
    /// batch when none is longer). Rows are oldest first from column 0, as the batcher lays them out.
    /// </summary>
    public static BatchArrays KeepRecent(BatchArrays batch, int? maxHistory)
    {
        if (maxHistory is not { } cut || batch.Width <= cut)
        {
            return batch;
        }

        // An inconsistent batch is passed on as it is, for the batch's own checks to name what is wrong.
        long cells = (long)batch.Size * batch.Width;
        if (batch.Lengths?.Length != batch.Size || batch.HistoryItems?.Length != cells || batch.HistoryCategories?.Length != cells || batch.Lengths.Any(l => l < 0))
        {
            return batch;
        }

        int width = Math.Min(batch.Width, cut);
        var items = new long[batch.Size * width];
        var categories = new long[batch.Size * width];
        var lengths = new int[batch.Size];
        for (int row = 0; row < batch.Size; row++)
        {
            int length = Math.Min(batch.Lengths[row], batch.Width);
            int kept = Math.Min(length, cut);
            Array.Copy(batch.HistoryItems, (row * batch.Width) + length - kept, items, row * width, kept);
            Array.Copy(batch.HistoryCategories, (row * batch.Width) + length - kept, categories, row * width, kept);
            lengths[row] = kept;
        }

        return new BatchArrays
        {
            Size = batch.Size,
            Width = width,
            UserIds = batch.UserIds,
            TargetItems = batch.TargetItems,
            TargetCategories = batch.TargetCategories,
            HistoryItems = items,
            HistoryCategories = categories,
            Lengths = lengths,
            Labels = batch.Labels,
            ExtraFieldCount = batch.ExtraFieldCount,
            ExtraFields = batch.ExtraFields,
        };
    }

    /// <summary>
    /// One batch of every request's rows, each row with its own user's history at its own length; rows of shorter
    /// histories are padded to the longest (padding is ignored by the model). The requests share one extra-field count.
    /// </summary>
    public static BatchArrays ToBatch(IReadOnlyList<CandidateRequest> requests) => ToCandidates(requests).ToRows();

    /// <summary>
    /// One ranking call of every request: each history once (padded to the longest, with its user and extra fields),
    /// and every candidate in the requests' order, naming its request's history. The requests share one extra-field count.
    /// </summary>
    public static CandidateArrays ToCandidates(IReadOnlyList<CandidateRequest> requests)
    {
        int count = requests.Count;
        int rows = requests.Sum(r => r.Rows);
        int width = requests.Max(r => r.HistoryItems.Length);
        int f = requests[0].ExtraFields.Length;
        var users = new long[count];
        var historyItems = new long[count * width];
        var historyCategories = new long[count * width];
        var lengths = new int[count];
        var extras = f == 0 ? null : new long[count * f];
        var items = new long[rows];
        var categories = new long[rows];
        var historyOf = new int[rows];
        int row = 0;
        for (int i = 0; i < count; i++)
        {
            var r = requests[i];
            users[i] = r.UserId;
            lengths[i] = r.HistoryItems.Length;
            r.HistoryItems.CopyTo(historyItems, i * width);
            r.HistoryCategories.CopyTo(historyCategories, i * width);
            if (extras is not null)
            {
                r.ExtraFields.CopyTo(extras, i * f);
            }

            r.CandidateItems.CopyTo(items, row);
            r.CandidateCategories.CopyTo(categories, row);
            Array.Fill(historyOf, i, row, r.Rows);
            row += r.Rows;
        }

        return new CandidateArrays
        {
            Histories = new BatchArrays
            {
                Size = count,
                Width = width,
                UserIds = users,
                TargetItems = new long[count],
                TargetCategories = new long[count],
                HistoryItems = historyItems,
                HistoryCategories = historyCategories,
                Lengths = lengths,
                ExtraFieldCount = f,
                ExtraFields = extras,
            },
            CandidateItems = items,
            CandidateCategories = categories,
            HistoryOfCandidate = historyOf,
        };
    }
}
