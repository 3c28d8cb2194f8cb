namespace Dien.Data.Converters;

/// <summary>
/// Turns one user's ordered behaviours into the authors' negative/positive pair: the behaviour at
/// <c>target</c> is the positive (label 1), a uniformly drawn item the user never had (with its
/// category) is the negative (label 0), both with the history of behaviours before <c>target</c>.
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

    public void Add(long user, IReadOnlyList<long> items, IReadOnlyList<long> categories, IReadOnlyList<float>? labels, int target)
    {
        if (target == 0 && !options.Read.KeepEmptyHistories)
        {
            DroppedEmpty++;
            return;
        }

        var historyItems = items.Take(target).ToArray();
        var historyCats = categories.Take(target).ToArray();
        var historyLabels = labels?.Take(target).ToArray();
        var seen = items.ToHashSet();
        long negative = ConverterSupport.NegativeTarget(seen, itemCategories.Length, _random);
        var list = _testUsers.Contains(user) ? Test : Train;
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
}
