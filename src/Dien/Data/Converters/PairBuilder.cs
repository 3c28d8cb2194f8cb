namespace Dien.Data.Converters;

/// <summary>
/// Turns one user's ordered behaviours into the authors' negative/positive pairs (one, or one per behaviour:
/// <see cref="ConversionOptions.TrainingTargets"/>). The behaviour at a target position is the positive
/// (label 1), a uniformly drawn item the user never had (with its category) is the negative (label 0), both with
/// the behaviours before it as history (the most recent <see cref="ConversionOptions.MaxHistoryLength"/>).
/// The negative comes first, as in the authors' files. A log with its own click labels gives one pair per target,
/// with its label, and no drawn negative.
/// </summary>
/// <remarks>
/// Split by user, a test user gives the pair at its last target. Split by time
/// (<see cref="SetTimeCuts"/>), each target goes to training, validation or test by its own time, and its history
/// is still the behaviours before it in the user's order, so no history holds an event after its target.
/// </remarks>
internal sealed class PairBuilder(long[] itemCategories, ConversionOptions options)
{
    private readonly Random _random = new(options.Seed);
    private readonly HashSet<long> _testUsers = [];
    private (long ValidationCut, long Cut)? _cuts;

    public List<Sample> Train { get; } = [];

    public List<Sample> Validation { get; } = [];

    public List<Sample> Test { get; } = [];

    public long DroppedEmpty { get; private set; }

    public void SetTestUsers(HashSet<long> users) => _testUsers.UnionWith(users);

    /// <summary>Splits by time from now on: targets before <paramref name="validationCut"/> train, those before <paramref name="cut"/> validate, the rest test (unix milliseconds).</summary>
    public void SetTimeCuts(long validationCut, long cut) => _cuts = (validationCut, cut);

    /// <summary>
    /// Adds the user's pairs: the one at <paramref name="target"/> for a test user or with
    /// <see cref="TrainingTargets.LastBehaviour"/>; otherwise one at every position up to it that
    /// <paramref name="canBeTarget"/> accepts (all of them when it is null). Split by time, every position that
    /// <paramref name="canBeTarget"/> accepts is placed by its time in <paramref name="times"/> (unix milliseconds).
    /// </summary>
    public void Add(long user, IReadOnlyList<long> items, IReadOnlyList<long> categories, IReadOnlyList<float>? labels, int target, Func<int, bool>? canBeTarget = null, IReadOnlyList<long>? times = null) =>
        Add(user, new UserBehaviours(items, categories, labels, times, canBeTarget, null, null), target);

    /// <summary>Adds the user's pairs, as the other overload, for behaviours that may be kept out of histories or carry their own labels.</summary>
    public void Add(long user, UserBehaviours behaviours, int target)
    {
        var seen = behaviours.Items.ToHashSet();
        var history = new History(behaviours);
        if (_cuts is { } cuts)
        {
            AddByTime(user, behaviours, history, seen, cuts);
            return;
        }

        var list = _testUsers.Contains(user) ? Test : Train;
        if (list == Test || options.TrainingTargets == TrainingTargets.LastBehaviour)
        {
            AddPair(list, user, behaviours, history, seen, target);
            return;
        }

        for (int t = 0; t <= target; t++)
        {
            if (behaviours.CanBeTarget?.Invoke(t) ?? true)
            {
                AddPair(list, user, behaviours, history, seen, t);
            }
        }
    }

    private void AddByTime(long user, UserBehaviours behaviours, History history, HashSet<long> seen, (long ValidationCut, long Cut) cuts)
    {
        var times = behaviours.Times ?? throw new InvalidOperationException("A split by time needs the behaviours' times.");
        int lastTraining = -1;
        for (int t = 0; t < behaviours.Items.Count; t++)
        {
            if (!(behaviours.CanBeTarget?.Invoke(t) ?? true))
            {
                continue;
            }

            if (times[t] < cuts.ValidationCut)
            {
                if (options.TrainingTargets == TrainingTargets.EveryBehaviour)
                {
                    AddPair(Train, user, behaviours, history, seen, t);
                }

                lastTraining = t;
            }
            else
            {
                AddPair(times[t] < cuts.Cut ? Validation : Test, user, behaviours, history, seen, t);
            }
        }

        if (options.TrainingTargets == TrainingTargets.LastBehaviour && lastTraining >= 0)
        {
            AddPair(Train, user, behaviours, history, seen, lastTraining);
        }
    }

    private void AddPair(List<Sample> list, long user, UserBehaviours behaviours, History history, HashSet<long> seen, int target)
    {
        int end = history.EndBefore(target);
        if (end == 0 && !options.Read.KeepEmptyHistories)
        {
            DroppedEmpty++;
            return;
        }

        int start = options.MaxHistoryLength is int cap ? Math.Max(0, end - cap) : 0;
        var historyItems = history.Items.Skip(start).Take(end - start).ToArray();
        var historyCats = history.Categories.Skip(start).Take(end - start).ToArray();
        var historyLabels = history.Labels?.Skip(start).Take(end - start).ToArray();
        if (behaviours.TargetLabels is { } own)
        {
            list.Add(new Sample
            {
                Label = own[target], User = user, TargetItem = behaviours.Items[target], TargetCategory = behaviours.Categories[target],
                HistoryItems = historyItems, HistoryCategories = historyCats, HistoryLabels = historyLabels,
            });
            return;
        }

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
            Label = 1f, User = user, TargetItem = behaviours.Items[target], TargetCategory = behaviours.Categories[target],
            HistoryItems = historyItems, HistoryCategories = historyCats, HistoryLabels = historyLabels,
        });
    }

    /// <summary>How many of <paramref name="items"/> each item id is (index = item id), for an item table of <paramref name="size"/> rows.</summary>
    public static long[] Occurrences(IEnumerable<long> items, int size)
    {
        var counts = new long[size];
        foreach (long item in items)
        {
            counts[item]++;
        }

        return counts;
    }

    /// <summary>
    /// The data set of the pairs built so far, with its read summary; calls <see cref="ReadOptions.Completed"/>
    /// once with that summary, as every reader does.
    /// </summary>
    /// <param name="users">The user vocabulary.</param>
    /// <param name="items">The item vocabulary.</param>
    /// <param name="categories">The category vocabulary.</param>
    /// <param name="itemOccurrences">Behaviours per item id (index = item id): the popularity negatives are drawn by (<see cref="Occurrences"/>).</param>
    /// <param name="source">The file(s) read, for the summary.</param>
    /// <param name="lines">Lines read.</param>
    /// <param name="bad">The bad lines seen.</param>
    /// <param name="otherDropped">Users or samples the converter dropped for its own reasons (counted with the empty histories).</param>
    public ConvertedDataset ToDataset(
        Vocabulary users, Vocabulary items, Vocabulary categories, long[] itemOccurrences, string source, long lines, ConverterSupport.BadLines bad, long otherDropped = 0)
    {
        var summary = new ReadSummary
        {
            Source = source, Lines = lines, Samples = Train.Count + Validation.Count + Test.Count,
            SkippedLines = bad.Skipped, FirstProblem = bad.First, DroppedEmptyHistories = DroppedEmpty + otherDropped,
        };
        options.Read.Completed?.Report(summary);
        return new ConvertedDataset
        {
            Train = Train, Validation = Validation, Test = Test, Users = users, Items = items, Categories = categories,
            ItemCategories = itemCategories, ItemOccurrences = itemOccurrences, Summary = summary,
        };
    }

    /// <summary>The behaviours that enter histories, and how many of them come before each position.</summary>
    private sealed class History
    {
        private readonly int[]? _before;

        public History(UserBehaviours behaviours)
        {
            if (behaviours.InHistory is not { } inHistory)
            {
                (Items, Categories, Labels) = (behaviours.Items, behaviours.Categories, behaviours.Labels);
                return;
            }

            _before = new int[behaviours.Items.Count + 1];
            var kept = new List<int>();
            for (int t = 0; t < behaviours.Items.Count; t++)
            {
                if (inHistory[t])
                {
                    kept.Add(t);
                }

                _before[t + 1] = kept.Count;
            }

            Items = kept.Select(t => behaviours.Items[t]).ToArray();
            Categories = kept.Select(t => behaviours.Categories[t]).ToArray();
            Labels = behaviours.Labels is { } labels ? kept.Select(t => labels[t]).ToArray() : null;
        }

        public IReadOnlyList<long> Items { get; }

        public IReadOnlyList<long> Categories { get; }

        public IReadOnlyList<float>? Labels { get; }

        /// <summary>How many history behaviours come before position <paramref name="target"/>.</summary>
        public int EndBefore(int target) => _before?[target] ?? target;
    }
}
