using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Dien.Data.Events;

/// <summary>
/// Groups a spilled <see cref="EventTable"/>'s events by user within a memory budget: users, in the order asked
/// for, are cut into runs of at most the budget's events (a user with more is a run alone); one pass over the log
/// writes each event to its run's temporary file, in file order; then each run is read back, sorted by user, time
/// and file order, and handed out user by user. Memory holds one run, never the whole log.
/// </summary>
internal static class UserPartitions
{
    /// <summary>Events buffered per run before a write.</summary>
    private const int WriteBuffer = 2048;

    /// <summary>
    /// Every user's events by time (ties in file order), users in <paramref name="order"/>'s order.
    /// </summary>
    /// <param name="table">The table (its chunks are read once).</param>
    /// <param name="order">Provisional user ids in the order wanted.</param>
    /// <param name="userEvents">Events per provisional user.</param>
    /// <param name="budget">Events per run.</param>
    public static IEnumerable<(int User, EventTable.Event[] Events)> ByUser(EventTable table, int[] order, IReadOnlyList<int> userEvents, long budget)
    {
        // order holds every provisional user once; one interned by a row that was then rejected has no events.
        var run = new int[order.Length];
        var rank = new int[order.Length];
        int runs = 0;
        long held = 0;
        for (int i = 0; i < order.Length; i++)
        {
            int user = order[i];
            int events = user < userEvents.Count ? userEvents[user] : 0;
            if (held > 0 && held + events > budget)
            {
                runs++;
                held = 0;
            }

            run[user] = runs;
            rank[user] = i;
            held += events;
        }

        runs++;
        var files = new FileStream[runs];
        try
        {
            var buffers = new Record[runs][];
            var filled = new int[runs];
            for (int r = 0; r < runs; r++)
            {
                files[r] = new FileStream(EventSpill.TemporaryFile("users"), FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose);
                buffers[r] = new Record[WriteBuffer];
            }

            foreach (var chunk in table.Chunks(timesOnly: false))
            {
                for (int i = 0; i < chunk.Count; i++)
                {
                    int r = run[chunk.Users[i]];
                    buffers[r][filled[r]++] = new Record(chunk.Times[i], chunk.First + i, chunk.Users[i], chunk.Items[i], chunk.Categories[i], chunk.Roles[i]);
                    if (filled[r] == WriteBuffer)
                    {
                        files[r].Write(MemoryMarshal.AsBytes(buffers[r].AsSpan()));
                        filled[r] = 0;
                    }
                }
            }

            for (int r = 0; r < runs; r++)
            {
                files[r].Write(MemoryMarshal.AsBytes(buffers[r].AsSpan(0, filled[r])));
                files[r].Flush();
                buffers[r] = null!;
            }

            for (int r = 0; r < runs; r++)
            {
                var records = new Record[files[r].Length / Unsafe.SizeOf<Record>()];
                files[r].Position = 0;
                files[r].ReadExactly(MemoryMarshal.AsBytes(records.AsSpan()));
                files[r].Dispose();

                // File order is the write order, so Order breaks ties of time as the in-memory grouping does.
                Array.Sort(records, (a, b) => rank[a.User] != rank[b.User] ? rank[a.User].CompareTo(rank[b.User]) : a.Time != b.Time ? a.Time.CompareTo(b.Time) : a.Order.CompareTo(b.Order));
                for (int start = 0; start < records.Length;)
                {
                    int end = start;
                    while (end < records.Length && records[end].User == records[start].User)
                    {
                        end++;
                    }

                    var events = new EventTable.Event[end - start];
                    for (int i = start; i < end; i++)
                    {
                        var e = records[i];
                        events[i - start] = new EventTable.Event(e.Time, e.Item, e.Category, e.Order, e.Role);
                    }

                    yield return (records[start].User, events);
                    start = end;
                }
            }
        }
        finally
        {
            foreach (var file in files)
            {
                file?.Dispose();
            }
        }
    }

    /// <summary>One event in a run's file (33 bytes).</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    private readonly record struct Record(long Time, long Order, int User, int Item, int Category, EventTable.Role Role);
}
