namespace Dien.Data.Converters;

/// <summary>
/// Turns one user's ordered behaviours into the authors' negative/positive pairs (one, or one per behaviour:
/// <see cref="ConversionOptions.TrainingTargets"/>). The behaviour at a target position is the positive
/// (label 1), a uniformly drawn item the user never had (with its category) is the negative (label 0), both with
/// the behaviours before it as history (the most recent <see cref="ConversionOptions.MaxHistoryLength"/>).
/// The negative comes first, as in the authors' files.
/// </summary>
internal sealed class PairBuilder(long[] itemCategories, ConversionOptions options)
{
    private readonly Random _random = new(options.Seed);
    private readonly HashSet<long> _testUsers = [];

    public List<Sample> Train { get; } = [];

    public List<Sample> Test { get; } = [];

    public long DroppedEmpty { get; private set; }

    public void SetTestUsers(HashSet<long> users) => _testUsers.UnionWith(users);

    /// <summary>
    /// Adds the user's pairs: the one at <paramref name="target"/> for a test user or with
    /// <see cref="TrainingTargets.LastBehaviour"/>; otherwise one at every position up to it that
    /// <paramref name="canBeTarget"/> accepts (all of them when it is null).
    /// </summary>
    public void Add(long user, IReadOnlyList<long> items, IReadOnlyList<long> categories, IReadOnlyList<float>? labels, int target, Func<int, bool>? canBeTarget = null)
    {
        var seen = items.ToHashSet();
        var list = _testUsers.Contains(user) ? Test : Train;
        if (list == Test || options.TrainingTargets == TrainingTargets.LastBehaviour)
        {
            AddPair(list, user, items, categories, labels, seen, target);
            return;
        }

        for (int t = 0; t <= target; t++)
        {
            if (canBeTarget?.Invoke(t) ?? true)
            {
                AddPair(list, user, items, categories, labels, seen, t);
            }
        }
    }

    private void AddPair(List<Sample> list, long user, IReadOnlyList<long> items, IReadOnlyList<long> categories, IReadOnlyList<float>? labels, HashSet<long> seen, int target)
    {
        if (target == 0 && !options.Read.KeepEmptyHistories)
        {
            DroppedEmpty++;
            return;
        }

        int start = options.MaxHistoryLength is int cap ? Math.Max(0, target - cap) : 0;
        var historyItems = items.Skip(start).Take(target - start).ToArray();
        var historyCats = categories.Skip(start).Take(target - start).ToArray();
        var historyLabels = labels?.Skip(start).Take(target - start).ToArray();
        long negative = ConverterSupport.NegativeTarget(seen, itemCategories.Length, _random);
        if (negative != 0)
        {
            list.Add(new Sample
            {
                Label = 0f, User = user, TargetItem = negative, TargetCategory = itemCategories[negative],
                HistoryItems = historyItems, HistoryCategories = historyCats, HistoryLabels = historyLabels,
            });
        }

        list.Add(new Sample
        {
            Label = 1f, User = user, TargetItem = items[target], TargetCategory = categories[target],
            HistoryItems = historyItems, HistoryCategories = historyCats, HistoryLabels = historyLabels,
        });
    }

    /// <summary>
    /// The data set of the pairs built so far, with its read summary; calls <see cref="ReadOptions.Completed"/>
    /// once with that summary, as every reader does.
    /// </summary>
    /// <param name="users">The user vocabulary.</param>
    /// <param name="items">The item vocabulary.</param>
    /// <param name="categories">The category vocabulary.</param>
    /// <param name="interactionPool">Every interaction's item id (the pool for popularity-weighted negatives).</param>
    /// <param name="source">The file(s) read, for the summary.</param>
    /// <param name="lines">Lines read.</param>
    /// <param name="bad">The bad lines seen.</param>
    /// <param name="otherDropped">Users or samples the converter dropped for its own reasons (counted with the empty histories).</param>
    public ConvertedDataset ToDataset(
        Vocabulary users, Vocabulary items, Vocabulary categories, long[] interactionPool, string source, long lines, ConverterSupport.BadLines bad, long otherDropped = 0)
    {
        var summary = new ReadSummary
        {
            Source = source, Lines = lines, Samples = Train.Count + Test.Count,
            SkippedLines = bad.Skipped, FirstProblem = bad.First, DroppedEmptyHistories = DroppedEmpty + otherDropped,
        };
        options.Read.Completed?.Report(summary);
        return new ConvertedDataset
        {
            Train = Train, Test = Test, Users = users, Items = items, Categories = categories,
            ItemCategories = itemCategories, InteractionPool = interactionPool, Summary = summary,
        };
    }
}
