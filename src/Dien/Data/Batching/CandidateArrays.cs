namespace Dien.Data.Batching;

/// <summary>
/// The host-side form of a ranking call: R histories (one per request, each with its user and extra fields) and K
/// candidates, each naming the history it is scored against. <see cref="CandidateBatch"/> turns it into tensors;
/// <see cref="ToRows"/> gives the equivalent batch of K rows, each carrying its history.
/// </summary>
internal sealed class CandidateArrays
{
    /// <summary>
    /// The histories, one row per request: users, histories, lengths and extra fields. Their target ids are the
    /// padding id 0 and are never read (a history has no target of its own; the candidates are the targets).
    /// </summary>
    public required BatchArrays Histories { get; init; }

    /// <summary>Candidate item ids, [K].</summary>
    public required long[] CandidateItems { get; init; }

    /// <summary>Candidate category ids, [K].</summary>
    public required long[] CandidateCategories { get; init; }

    /// <summary>The history (row of <see cref="Histories"/>) each candidate is scored against, [K].</summary>
    public required int[] HistoryOfCandidate { get; init; }

    /// <summary>Number of candidates K (the rows scored).</summary>
    public int Size => CandidateItems.Length;

    /// <summary>Checks the structure: the histories', the candidates' array sizes, ids not negative, history indices in range.</summary>
    /// <exception cref="ArgumentException">The first problem found, naming the field, the row and the value.</exception>
    public void Validate()
    {
        Histories.Validate();
        if (CandidateCategories.Length != Size || HistoryOfCandidate.Length != Size)
        {
            throw new ArgumentException(
                $"{nameof(CandidateItems)}, {nameof(CandidateCategories)} and {nameof(HistoryOfCandidate)} have {Size}, {CandidateCategories.Length} and {HistoryOfCandidate.Length} entries: one per candidate each.",
                nameof(CandidateCategories));
        }

        for (int k = 0; k < Size; k++)
        {
            BatchArrays.RequireNonNegative(nameof(BatchArrays.TargetItems), k, -1, CandidateItems[k]);
            BatchArrays.RequireNonNegative(nameof(BatchArrays.TargetCategories), k, -1, CandidateCategories[k]);
            if (HistoryOfCandidate[k] < 0 || HistoryOfCandidate[k] >= Histories.Size)
            {
                throw new ArgumentException(
                    $"{nameof(HistoryOfCandidate)}[{k}] = {HistoryOfCandidate[k]}: must be in 0 .. {Histories.Size - 1} (one of the {Histories.Size} histories).", nameof(HistoryOfCandidate));
            }
        }
    }

    /// <summary>
    /// Checks every id against its table size: the histories' (named by history row) and the candidates' (named as
    /// <c>TargetItems[row k]</c>, the row the candidate has in <see cref="ToRows"/>).
    /// </summary>
    /// <param name="sizes">The table sizes of the model that will read the batch.</param>
    /// <exception cref="ArgumentException">An id is at or beyond its table size; the message names the field, row, position and value.</exception>
    public void EnsureIdsInRange(VocabularySizes sizes)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        Histories.EnsureIdsInRange(sizes);
        for (int k = 0; k < Size; k++)
        {
            BatchArrays.RequireBelow(nameof(BatchArrays.TargetItems), k, -1, CandidateItems[k], sizes.ItemVocabularySize, nameof(sizes.ItemVocabularySize));
            BatchArrays.RequireBelow(nameof(BatchArrays.TargetCategories), k, -1, CandidateCategories[k], sizes.CategoryVocabularySize, nameof(sizes.CategoryVocabularySize));
        }
    }

    /// <summary>
    /// The same scoring as a batch of K rows, each candidate a row carrying its history (copied), its user and extra
    /// fields, padded to the longest history. What a model without a history/candidate split scores.
    /// </summary>
    public BatchArrays ToRows()
    {
        var h = Histories;
        int rows = Size, width = h.Width, f = h.ExtraFieldCount;
        var users = new long[rows];
        var historyItems = new long[rows * width];
        var historyCategories = new long[rows * width];
        var lengths = new int[rows];
        var extras = f == 0 ? null : new long[rows * f];
        for (int row = 0; row < rows; row++)
        {
            int r = HistoryOfCandidate[row];
            users[row] = h.UserIds[r];
            lengths[row] = h.Lengths[r];
            Array.Copy(h.HistoryItems, r * width, historyItems, row * width, width);
            Array.Copy(h.HistoryCategories, r * width, historyCategories, row * width, width);
            if (extras is not null)
            {
                Array.Copy(h.ExtraFields!, r * f, extras, row * f, f);
            }
        }

        return new BatchArrays
        {
            Size = rows,
            Width = width,
            UserIds = users,
            TargetItems = CandidateItems,
            TargetCategories = CandidateCategories,
            HistoryItems = historyItems,
            HistoryCategories = historyCategories,
            Lengths = lengths,
            ExtraFieldCount = f,
            ExtraFields = extras,
        };
    }
}
