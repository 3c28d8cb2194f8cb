using System.Runtime.InteropServices;
using Dien.Data.Converters;

namespace Dien.Data.Events;

/// <summary>
/// An event log held as ids: per user, a compact list of its events (24 bytes each: time, item, category, file
/// order, role), with the users, items, categories and behaviour values interned as they stream by. Memory grows
/// with the users and distinct keys plus those 24 bytes per event, never with the rows' text; the readers drop each
/// row group or line after adding it.
/// </summary>
internal sealed class EventTable
{
    private readonly List<List<Event>> _byUser = [];
    private readonly List<int> _itemCategory = [];
    private readonly Dictionary<string, byte> _roles = new(StringComparer.Ordinal);
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

    public long FirstTime { get; private set; } = long.MaxValue;

    public long LastTime { get; private set; } = long.MinValue;

    public int UserCount => _byUser.Count;

    /// <summary>The files read, in order.</summary>
    public List<string> Files { get; } = [];

    /// <summary>The roles of a behaviour value (<see cref="Role.None"/>: the row is not used).</summary>
    public Role RoleOf(string behaviour)
    {
        if (!_roles.TryGetValue(behaviour, out byte role))
        {
            role = (byte)(((_targets?.Contains(behaviour) ?? true) ? Role.Target : Role.None) | ((_history?.Contains(behaviour) ?? true) ? Role.History : Role.None));
            if (_roles.Count < 4096)
            {
                _roles[behaviour] = role;
            }
        }

        return (Role)role;
    }

    /// <summary>Whether a row with <paramref name="role"/> is used at all (a target or history); an unused row's keys are not interned.</summary>
    public static bool IsUsed(Role role) => (role & (Role.Target | Role.History)) != 0;

    /// <summary>Counts a row whose behaviour is neither a target nor a history value.</summary>
    public void CountUnused() => Unused++;

    /// <summary>Adds one event; <paramref name="category"/> is a provisional category id or -1 for none.</summary>
    /// <param name="user">Provisional user id.</param>
    /// <param name="item">Provisional item id.</param>
    /// <param name="category">Provisional category id, or -1.</param>
    /// <param name="time">Unix milliseconds.</param>
    /// <param name="role">Target and history roles, and the click label when the log has one.</param>
    public void Add(int user, int item, int category, long time, Role role)
    {
        while (_byUser.Count <= user)
        {
            _byUser.Add([]);
        }

        while (_itemCategory.Count <= item)
        {
            _itemCategory.Add(-1);
        }

        if (_itemCategory[item] < 0)
        {
            _itemCategory[item] = category;
        }

        var events = _byUser[user];
        events.Add(new Event(time, item, category, events.Count, role));
        Events++;
        FirstTime = Math.Min(FirstTime, time);
        LastTime = Math.Max(LastTime, time);
    }

    /// <summary>The provisional category of a provisional item (its first one), or -1.</summary>
    public int CategoryOfItem(int item) => item < _itemCategory.Count ? _itemCategory[item] : -1;

    /// <summary>A user's events by time, ties in file order; the table lets go of them (<see cref="Release"/>).</summary>
    public Span<Event> Ordered(int user)
    {
        var events = CollectionsMarshal.AsSpan(_byUser[user]);
        events.Sort(static (a, b) => a.Time != b.Time ? a.Time.CompareTo(b.Time) : a.Order.CompareTo(b.Order));
        return events;
    }

    /// <summary>Every event's time (unix milliseconds), for placing a time split's cuts.</summary>
    public long[] Times()
    {
        var times = new long[Events];
        long next = 0;
        foreach (var events in _byUser)
        {
            foreach (var e in events)
            {
                times[next++] = e.Time;
            }
        }

        return times;
    }

    /// <summary>Frees a user's events once its pairs are built.</summary>
    public void Release(int user) => _byUser[user] = [];

    /// <summary>One event.</summary>
    /// <param name="Time">Unix milliseconds.</param>
    /// <param name="Item">Provisional item id.</param>
    /// <param name="Category">Provisional category id, or -1.</param>
    /// <param name="Order">Its place among the user's rows in file order (ties of time keep it).</param>
    /// <param name="Role">Target, history, clicked.</param>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    public readonly record struct Event(long Time, int Item, int Category, int Order, Role Role);
}
