using Dien.Data.Converters;

namespace Dien.Data.Events;

/// <summary>
/// An event log held as ids, in columns of fixed-size chunks (25 bytes per event: time, user, item, category,
/// role), with the users, items, categories and behaviour values interned as they stream by. Memory grows with
/// the distinct keys plus those 25 bytes per event, never with the rows' text; the readers drop each row group or
/// line after adding it. <see cref="GroupByUser"/> then orders the events by user (4 more bytes per event).
/// </summary>
internal sealed class EventTable
{
    private const int ChunkBits = 20;
    private const int ChunkSize = 1 << ChunkBits;

    private readonly List<long[]> _times = [];
    private readonly List<int[]> _users = [];
    private readonly List<int[]> _items = [];
    private readonly List<int[]> _categories = [];
    private readonly List<Role[]> _roles = [];
    private readonly List<int> _itemCategory = [];
    private readonly Dictionary<string, Role> _behaviourRoles = new(StringComparer.Ordinal);
    private readonly HashSet<string>? _targets;
    private readonly HashSet<string>? _history;

    public EventTable(EventColumns columns)
    {
        Columns = columns;
        _targets = columns.TargetBehaviours?.ToHashSet(StringComparer.Ordinal);
        _history = columns.HistoryBehaviours?.ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Roles of an event.</summary>
    [Flags]
    public enum Role : byte
    {
        None = 0,
        Target = 1,
        History = 2,
        Clicked = 4,
    }

    public EventColumns Columns { get; }

    public KeyInterner Users { get; } = new();

    public KeyInterner Items { get; } = new();

    public KeyInterner Categories { get; } = new();

    /// <summary>Events kept.</summary>
    public long Events { get; private set; }

    /// <summary>Rows whose behaviour is neither a target nor a history value (not used).</summary>
    public long Unused { get; private set; }

    /// <summary>Lines (CSV, header and blank lines included) or rows (Parquet) read.</summary>
    public long Lines { get; set; }

    public int UserCount => Users.Count;

    /// <summary>The files read, in order.</summary>
    public List<string> Files { get; } = [];

    /// <summary>Whether a row with <paramref name="role"/> is used at all (a target or history); an unused row's keys are not interned.</summary>
    public static bool IsUsed(Role role) => (role & (Role.Target | Role.History)) != 0;

    /// <summary>The roles of a behaviour value (<see cref="Role.None"/>: the row is not used).</summary>
    public Role RoleOf(string behaviour)
    {
        if (!_behaviourRoles.TryGetValue(behaviour, out var role))
        {
            role = ((_targets?.Contains(behaviour) ?? true) ? Role.Target : Role.None) | ((_history?.Contains(behaviour) ?? true) ? Role.History : Role.None);
            if (_behaviourRoles.Count < 4096)
            {
                _behaviourRoles[behaviour] = role;
            }
        }

        return role;
    }

    /// <summary>Counts a row whose behaviour is neither a target nor a history value.</summary>
    public void CountUnused() => Unused++;

    /// <summary>Adds one event.</summary>
    /// <param name="user">Provisional user id.</param>
    /// <param name="item">Provisional item id.</param>
    /// <param name="category">Provisional category id, or -1 for none.</param>
    /// <param name="time">Unix milliseconds.</param>
    /// <param name="role">Target and history roles, and the click label when the log has one.</param>
    public void Add(int user, int item, int category, long time, Role role)
    {
        int at = (int)(Events & (ChunkSize - 1));
        if (at == 0)
        {
            _times.Add(new long[ChunkSize]);
            _users.Add(new int[ChunkSize]);
            _items.Add(new int[ChunkSize]);
            _categories.Add(new int[ChunkSize]);
            _roles.Add(new Role[ChunkSize]);
        }

        (_times[^1][at], _users[^1][at], _items[^1][at], _categories[^1][at], _roles[^1][at]) = (time, user, item, category, role);
        while (_itemCategory.Count <= item)
        {
            _itemCategory.Add(-1);
        }

        if (_itemCategory[item] < 0)
        {
            _itemCategory[item] = category;
        }

        Events++;
    }

    /// <summary>The provisional category of a provisional item (its first one), or -1.</summary>
    public int CategoryOfItem(int item) => item < _itemCategory.Count ? _itemCategory[item] : -1;

    /// <summary>Every event's time (unix milliseconds), for placing a time split's cuts.</summary>
    public long[] Times()
    {
        var times = new long[Events];
        for (long e = 0; e < Events; e++)
        {
            times[e] = TimeOf(e);
        }

        return times;
    }

    /// <summary>The events grouped by user: user <c>u</c>'s are <c>order[start[u] .. start[u + 1]]</c>, in file order.</summary>
    public (long[] Start, int[] Order) GroupByUser()
    {
        if (Events > Array.MaxLength)
        {
            throw new InvalidOperationException($"{Events} events are more than one array can order ({Array.MaxLength}).");
        }

        var start = new long[UserCount + 1];
        for (long e = 0; e < Events; e++)
        {
            start[UserOf(e) + 1]++;
        }

        for (int u = 0; u < UserCount; u++)
        {
            start[u + 1] += start[u];
        }

        var next = (long[])start.Clone();
        var order = new int[Events];
        for (long e = 0; e < Events; e++)
        {
            order[next[UserOf(e)]++] = (int)e;
        }

        return (start, order);
    }

    /// <summary>A user's events by time, ties in file order.</summary>
    /// <param name="indices">The user's event indices in file order (a slice of <see cref="GroupByUser"/>'s order).</param>
    public Event[] Ordered(ReadOnlySpan<int> indices)
    {
        var events = new Event[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            int e = indices[i];
            events[i] = new Event(TimeOf(e), _items[e >> ChunkBits][e & (ChunkSize - 1)], _categories[e >> ChunkBits][e & (ChunkSize - 1)], e, _roles[e >> ChunkBits][e & (ChunkSize - 1)]);
        }

        Array.Sort(events, static (a, b) => a.Time != b.Time ? a.Time.CompareTo(b.Time) : a.Order.CompareTo(b.Order));
        return events;
    }

    private long TimeOf(long e) => _times[(int)(e >> ChunkBits)][e & (ChunkSize - 1)];

    private int UserOf(long e) => _users[(int)(e >> ChunkBits)][e & (ChunkSize - 1)];

    /// <summary>One event.</summary>
    /// <param name="Time">Unix milliseconds.</param>
    /// <param name="Item">Provisional item id.</param>
    /// <param name="Category">Provisional category id, or -1.</param>
    /// <param name="Order">Its index in the log (file order; ties of time keep it).</param>
    /// <param name="Role">Target, history, clicked.</param>
    public readonly record struct Event(long Time, int Item, int Category, int Order, Role Role);
}
