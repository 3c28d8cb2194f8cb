using Dien.Data.Converters;

namespace Dien.Data.Events;

/// <summary>
/// An event log held as ids, in columns of fixed-size chunks (25 bytes per event: time, user, item, category,
/// role), with the users, items, categories and behaviour values interned as they stream by. The readers drop each
/// row group or line after adding it, and once the table holds its budget of events (4 chunks of 1,048,576) it
/// writes its chunks to a temporary file (<see cref="EventSpill"/>) and reuses them: memory grows with the distinct
/// keys, never with the rows. <see cref="ByUser"/> then hands out each user's events by time.
/// </summary>
internal sealed class EventTable : IDisposable
{
    /// <summary>Events per chunk: 2^20.</summary>
    public const int DefaultChunkBits = 20;

    /// <summary>Chunks held in memory before they are spilled (about 100 MB of events).</summary>
    public const int DefaultMemoryChunks = 4;

    private readonly int _chunkBits;
    private readonly int _chunkSize;
    private readonly int _memoryChunks;
    private readonly List<long[]> _times = [];
    private readonly List<int[]> _users = [];
    private readonly List<int[]> _items = [];
    private readonly List<int[]> _categories = [];
    private readonly List<Role[]> _roles = [];
    private readonly List<int> _userEvents = [];
    private readonly List<int> _itemCategory = [];
    private readonly Dictionary<string, Role> _behaviourRoles = new(StringComparer.Ordinal);
#if NET9_0_OR_GREATER
    private readonly Dictionary<string, Role>.AlternateLookup<ReadOnlySpan<char>> _behaviourRoleSpans;
#endif
    private readonly HashSet<string>? _targets;
    private readonly HashSet<string>? _history;
    private EventSpill? _spill;
    private int _chunksUsed;

    /// <summary>An empty table.</summary>
    /// <param name="columns">The mapping (which behaviour values are targets and history).</param>
    /// <param name="chunkBits">Events per chunk, as a power of 2 (tests make it small to spill small logs).</param>
    /// <param name="memoryChunks">Chunks held before they are spilled; also the events of one run of <see cref="ByUser"/>.</param>
    public EventTable(EventColumns columns, int chunkBits = DefaultChunkBits, int memoryChunks = DefaultMemoryChunks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBits, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(chunkBits, 24);
        ArgumentOutOfRangeException.ThrowIfLessThan(memoryChunks, 1);
        Columns = columns;
        _chunkBits = chunkBits;
        _chunkSize = 1 << chunkBits;
        _memoryChunks = memoryChunks;
        _targets = columns.TargetBehaviours?.ToHashSet(StringComparer.Ordinal);
        _history = columns.HistoryBehaviours?.ToHashSet(StringComparer.Ordinal);
#if NET9_0_OR_GREATER
        _behaviourRoleSpans = _behaviourRoles.GetAlternateLookup<ReadOnlySpan<char>>();
#endif
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

    /// <summary>Events written to the temporary file so far (0: the table is all in memory).</summary>
    public long SpilledEvents => (_spill?.Chunks ?? 0) * _chunkSize;

    /// <summary>The temporary file of the spilled events, or null while the table is all in memory.</summary>
    public string? SpillPath => _spill?.Path;

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

    /// <summary>As <see cref="RoleOf(string)"/>, from characters: a string is made only for a value not seen before.</summary>
    public Role RoleOf(ReadOnlySpan<char> behaviour)
    {
#if NET9_0_OR_GREATER
        return _behaviourRoleSpans.TryGetValue(behaviour, out var role) ? role : RoleOf(behaviour.ToString());
#else
        return RoleOf(behaviour.ToString());
#endif
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
        int at = (int)(Events & (_chunkSize - 1));
        if (at == 0)
        {
            if (_chunksUsed == _memoryChunks)
            {
                Spill();
            }

            if (_chunksUsed == _times.Count)
            {
                _times.Add(new long[_chunkSize]);
                _users.Add(new int[_chunkSize]);
                _items.Add(new int[_chunkSize]);
                _categories.Add(new int[_chunkSize]);
                _roles.Add(new Role[_chunkSize]);
            }

            _chunksUsed++;
        }

        int c = _chunksUsed - 1;
        (_times[c][at], _users[c][at], _items[c][at], _categories[c][at], _roles[c][at]) = (time, user, item, category, role);
        while (_userEvents.Count <= user)
        {
            _userEvents.Add(0);
        }

        _userEvents[user]++;
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

    /// <summary>Every event's time (unix milliseconds), in file order, read from the spill file and memory on each enumeration.</summary>
    public IEnumerable<long> Times()
    {
        foreach (var chunk in Chunks(timesOnly: true))
        {
            for (int i = 0; i < chunk.Count; i++)
            {
                yield return chunk.Times[i];
            }
        }
    }

    /// <summary>
    /// Each user's events by time (ties in file order), users in <paramref name="order"/>'s order; users without
    /// events are left out. A table that spilled is grouped in runs of its memory budget through temporary files.
    /// </summary>
    /// <param name="order">Every provisional user id, in the order wanted.</param>
    public IEnumerable<(int User, Event[] Events)> ByUser(int[] order) =>
        _spill is null ? ByUserInMemory(order) : UserPartitions.ByUser(this, order, _userEvents, (long)_memoryChunks * _chunkSize);

    /// <summary>The table's chunks in file order: the spilled ones (read into one reused set of arrays), then those in memory.</summary>
    /// <param name="timesOnly">Read only the times of spilled chunks (the other columns are then stale).</param>
    public IEnumerable<Chunk> Chunks(bool timesOnly)
    {
        long chunks = _spill?.Chunks ?? 0;
        if (chunks > 0)
        {
            var (times, users, items, categories, roles) = (new long[_chunkSize], new int[_chunkSize], new int[_chunkSize], new int[_chunkSize], new Role[_chunkSize]);
            for (long c = 0; c < chunks; c++)
            {
                if (timesOnly)
                {
                    _spill!.ReadTimes(c, times);
                }
                else
                {
                    _spill!.Read(c, times, users, items, categories, roles);
                }

                yield return new Chunk(c * _chunkSize, _chunkSize, times, users, items, categories, roles);
            }
        }

        for (int c = 0; c < _chunksUsed; c++)
        {
            long first = SpilledEvents + ((long)c * _chunkSize);
            yield return new Chunk(first, (int)Math.Min(_chunkSize, Events - first), _times[c], _users[c], _items[c], _categories[c], _roles[c]);
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _spill?.Dispose();

    private void Spill()
    {
        _spill ??= new EventSpill(_chunkSize);
        for (int c = 0; c < _chunksUsed; c++)
        {
            _spill.Append(_times[c], _users[c], _items[c], _categories[c], _roles[c]);
        }

        _chunksUsed = 0;
    }

    private IEnumerable<(int User, Event[] Events)> ByUserInMemory(int[] order)
    {
        if (Events > Array.MaxLength)
        {
            throw new InvalidOperationException($"{Events} events are more than one array can order ({Array.MaxLength}).");
        }

        // Counting sort by user (the counts kept by Add): user u's events are grouped[start[u] .. start[u + 1]], in file order.
        var start = new long[UserCount + 1];
        for (int u = 0; u < UserCount; u++)
        {
            start[u + 1] = start[u] + (u < _userEvents.Count ? _userEvents[u] : 0);
        }

        var next = (long[])start.Clone();
        var grouped = new int[Events];
        for (long e = 0; e < Events; e++)
        {
            grouped[next[UserOf(e)]++] = (int)e;
        }

        foreach (int user in order)
        {
            int from = (int)start[user], count = (int)(start[user + 1] - start[user]);
            if (count == 0)
            {
                continue;
            }

            var events = new Event[count];
            for (int i = 0; i < count; i++)
            {
                int e = grouped[from + i];
                int c = e >> _chunkBits, at = e & (_chunkSize - 1);
                events[i] = new Event(_times[c][at], _items[c][at], _categories[c][at], e, _roles[c][at]);
            }

            Array.Sort(events, static (a, b) => a.Time != b.Time ? a.Time.CompareTo(b.Time) : a.Order.CompareTo(b.Order));
            yield return (user, events);
        }
    }

    private int UserOf(long e) => _users[(int)(e >> _chunkBits)][e & (_chunkSize - 1)];

    /// <summary>One event.</summary>
    /// <param name="Time">Unix milliseconds.</param>
    /// <param name="Item">Provisional item id.</param>
    /// <param name="Category">Provisional category id, or -1.</param>
    /// <param name="Order">Its index in the log (file order; ties of time keep it).</param>
    /// <param name="Role">Target, history, clicked.</param>
    public readonly record struct Event(long Time, int Item, int Category, long Order, Role Role);

    /// <summary>Up to one chunk of consecutive events: events <c>First .. First + Count</c> of the log.</summary>
    public readonly record struct Chunk(long First, int Count, long[] Times, int[] Users, int[] Items, int[] Categories, Role[] Roles);
}
