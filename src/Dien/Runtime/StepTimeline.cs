using System.Diagnostics;

namespace Dien.Runtime;

/// <summary>
/// Where the time of a training step goes on the thread that runs it: the model and its fused kernels' autograd nodes
/// mark points of the step (<see cref="Mark"/>), and the time between two marks adds up under that pair. For
/// measurements only (<c>workload --timeline</c> in the bench): off, a mark costs one field read.
/// </summary>
/// <remarks>
/// Only the thread that called <see cref="Begin"/> records, between <see cref="StartStep"/> and <see cref="EndStep"/>
/// (so that evaluation between steps stays out), so helper threads running kernel chunks and other
/// threads using the library do not mix into its figures. Time between marks is wall time on that thread: with a
/// kernel started in the background it includes waiting, which is what the step pays.
/// </remarks>
internal static class StepTimeline
{
    private static readonly Dictionary<(string From, string To), int> s_index = new();
    private static readonly List<Interval> s_intervals = new();
    private static readonly Dictionary<(string From, string To), int> s_backgroundIndex = new();
    private static readonly List<Interval> s_background = new();
    private static volatile int s_thread;
    private static bool s_inStep;
    private static long s_previous;
    private static string s_previousLabel = StepStart;

    /// <summary>The label of the point <see cref="StartStep"/> sets.</summary>
    public const string StepStart = "step start";

    /// <summary>The label of the point <see cref="EndStep"/> marks.</summary>
    public const string StepEnd = "step end";

    /// <summary>Starts recording on the calling thread, from empty totals.</summary>
    /// <remarks>One recording at a time, begun and ended on the thread that records: nothing here is shared with others.</remarks>
    public static void Begin()
    {
        s_thread = 0;
        s_index.Clear();
        s_intervals.Clear();
        s_backgroundIndex.Clear();
        s_background.Clear();
        s_inStep = false;
        s_thread = Environment.CurrentManagedThreadId;
    }

    /// <summary>Stops recording and returns the intervals in the order they were first seen.</summary>
    public static IReadOnlyList<Interval> End()
    {
        s_thread = 0;
        s_inStep = false;
        return s_intervals.ToList();
    }

    /// <summary>Whether a recording is under way, on any thread: helpers take the timestamps of <see cref="Background"/> only then.</summary>
    public static bool Recording => s_thread != 0;

    /// <summary>
    /// The background jobs' lives (<c>KernelWorkers.Start</c>) as the recording thread saw them at their joins, in the
    /// order first seen: from the start to the end of the last chunk, and from then to the join. Apart from
    /// <see cref="End"/>'s intervals, since they overlap the recording thread's own time.
    /// </summary>
    public static IReadOnlyList<Interval> BackgroundIntervals() => s_background.ToList();

    /// <summary>
    /// Adds a background job's life, called at its join on the thread that started it: <paramref name="startedAt"/> to
    /// <paramref name="doneAt"/> (its last chunk's end) and <paramref name="doneAt"/> to <paramref name="joinedAt"/> (the
    /// time its helpers had nothing left of it while the caller went on; counted as 0 when the last chunk ended after
    /// the join began, that is when the join had to wait). Timestamps are
    /// <see cref="Stopwatch.GetTimestamp"/>'s; a 0 (taken while nothing recorded) leaves the job out.
    /// </summary>
    public static void Background(long startedAt, long doneAt, long joinedAt)
    {
        if (s_thread != Environment.CurrentManagedThreadId || !s_inStep || startedAt == 0 || doneAt == 0)
        {
            return;
        }

        Add(s_background, s_backgroundIndex, BackgroundStarted, BackgroundDone, Stopwatch.GetElapsedTime(startedAt, doneAt));
        Add(s_background, s_backgroundIndex, BackgroundDone, BackgroundJoined, Stopwatch.GetElapsedTime(doneAt, Math.Max(doneAt, joinedAt)));
    }

    /// <summary>Labels of <see cref="BackgroundIntervals"/>.</summary>
    public const string BackgroundStarted = "background job started", BackgroundDone = "its last chunk done", BackgroundJoined = "joined";

    /// <summary>Adds <paramref name="elapsed"/> and one pass to the interval (<paramref name="from"/>, <paramref name="to"/>), appended the first time the pair is seen.</summary>
    private static void Add(List<Interval> intervals, Dictionary<(string From, string To), int> index, string from, string to, TimeSpan elapsed)
    {
        if (!index.TryGetValue((from, to), out int i))
        {
            index[(from, to)] = i = intervals.Count;
            intervals.Add(new Interval(from, to, 0, 0));
        }

        var interval = intervals[i];
        intervals[i] = interval with { Milliseconds = interval.Milliseconds + elapsed.TotalMilliseconds, Count = interval.Count + 1 };
    }

    /// <summary>Marks the start of a step: the time since the last mark is not counted.</summary>
    public static void StartStep()
    {
        if (s_thread == Environment.CurrentManagedThreadId)
        {
            s_inStep = true;
            s_previousLabel = StepStart;
            s_previous = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>Marks the end of a step (<see cref="StepEnd"/>); marks until the next <see cref="StartStep"/> are not counted.</summary>
    public static void EndStep()
    {
        Mark(StepEnd);
        s_inStep = false;
    }

    /// <summary>Adds the time since the previous mark to the interval (previous label, <paramref name="label"/>).</summary>
    /// <param name="label">A constant naming the point just reached.</param>
    public static void Mark(string label)
    {
        if (s_thread != Environment.CurrentManagedThreadId || !s_inStep)
        {
            return;
        }

        long now = Stopwatch.GetTimestamp();
        Add(s_intervals, s_index, s_previousLabel, label, Stopwatch.GetElapsedTime(s_previous, now));
        s_previousLabel = label;
        s_previous = now;
    }

    /// <summary>The time spent between two marks, summed over the times it was passed.</summary>
    /// <param name="From">The earlier mark.</param>
    /// <param name="To">The later mark.</param>
    /// <param name="Milliseconds">Total wall time, ms.</param>
    /// <param name="Count">How many times the pair was passed.</param>
    public readonly record struct Interval(string From, string To, double Milliseconds, long Count);
}
