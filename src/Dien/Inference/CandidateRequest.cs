using Dien.Data.Batching;

namespace Dien.Inference;

/// <summary>
/// One user's scoring request: the history and the candidates to score against it, and how requests become the
/// rows of one batch (each candidate a row carrying its user's whole history).
/// </summary>
internal sealed record CandidateRequest(
    long UserId, long[] HistoryItems, long[] HistoryCategories, long[] CandidateItems, long[] CandidateCategories, long[] ExtraFields)
{
    /// <summary>One row per candidate.</summary>
    public int Rows => CandidateItems.Length;

    /// <summary>A request from a caller's lists (copied, so the caller may reuse them); null extra fields mean none.</summary>
    public static CandidateRequest From(
        long userId,
        IReadOnlyList<long> historyItems,
        IReadOnlyList<long> historyCategories,
        IReadOnlyList<long> candidateItems,
        IReadOnlyList<long> candidateCategories,
        IReadOnlyList<long>? extraFields) =>
        new(userId, historyItems.ToArray(), historyCategories.ToArray(), candidateItems.ToArray(), candidateCategories.ToArray(),
            extraFields?.ToArray() ?? Array.Empty<long>());

    /// <summary>
    /// One batch of every request's rows, each row with its own user's history at its own length; rows of shorter
    /// histories are padded to the longest (padding is ignored by the model). The requests share one extra-field count.
    /// </summary>
    public static BatchArrays ToBatch(IReadOnlyList<CandidateRequest> requests)
    {
        int rows = requests.Sum(r => r.Rows);
        int width = requests.Max(r => r.HistoryItems.Length);
        int f = requests[0].ExtraFields.Length;
        var users = new long[rows];
        var items = new long[rows];
        var categories = new long[rows];
        var historyItems = new long[rows * width];
        var historyCategories = new long[rows * width];
        var lengths = new int[rows];
        var extras = f == 0 ? null : new long[rows * f];
        int row = 0;
        foreach (var r in requests)
        {
            for (int c = 0; c < r.Rows; c++, row++)
            {
                users[row] = r.UserId;
                items[row] = r.CandidateItems[c];
                categories[row] = r.CandidateCategories[c];
                lengths[row] = r.HistoryItems.Length;
                r.HistoryItems.CopyTo(historyItems, row * width);
                r.HistoryCategories.CopyTo(historyCategories, row * width);
                if (extras is not null)
                {
                    r.ExtraFields.CopyTo(extras, row * f);
                }
            }
        }

        return new BatchArrays
        {
            Size = rows,
            Width = width,
            UserIds = users,
            TargetItems = items,
            TargetCategories = categories,
            HistoryItems = historyItems,
            HistoryCategories = historyCategories,
            Lengths = lengths,
            ExtraFieldCount = f,
            ExtraFields = extras,
        };
    }
}
