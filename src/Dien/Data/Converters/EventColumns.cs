using Dien.Runtime;

namespace Dien.Data.Converters;

/// <summary>
/// Which columns of an event log (one row per event, Parquet or CSV/TSV with a header) hold the user, the item
/// and the time, and optionally the category, the behaviour type and a click label. Read by
/// <see cref="EventLogConverter"/>.
/// </summary>
/// <remarks>
/// <para>Column types are checked when a file is opened: an id column (user, item, category, behaviour) holds text
/// or integers; the time column a timestamp, a date, an integer (<see cref="TimeUnit"/>) or text (ISO 8601 or an
/// integer); the label column booleans, the integers 0 and 1, or the text 0, 1, true or false.</para>
/// <para>Without a label column every target row is a positive, paired with a sampled negative, as the other
/// converters do. With one, each target row is a pair of its own with its label, and only rows labelled 1 enter
/// histories (a history is what the user clicked).</para>
/// </remarks>
public sealed record EventColumns
{
    /// <summary>The user column. A null or empty user is a bad row.</summary>
    public required string User { get; init; }

    /// <summary>The item column. A null or empty item is a bad row.</summary>
    public required string Item { get; init; }

    /// <summary>The time column: the order of each user's events and the place of a time split's cut.</summary>
    public required string Time { get; init; }

    /// <summary>The category column, or null: every item then has category 0.</summary>
    /// <value>The default value is null. An item's category is the first one the log gives it; a null category is 0.</value>
    public string? Category { get; init; }

    /// <summary>The behaviour-type column (e.g. pv, cart, buy), or null: every row is both a target and history.</summary>
    /// <value>The default value is null.</value>
    public string? Behaviour { get; init; }

    /// <summary>The behaviour values whose rows are targets (click pairs); null: every value.</summary>
    /// <value>The default value is null. Taobao's page views: <c>["pv"]</c>. Rows whose value is in neither this nor <see cref="HistoryBehaviours"/> are not used.</value>
    public IReadOnlyList<string>? TargetBehaviours { get; init; }

    /// <summary>The behaviour values whose rows enter later histories; null: every value.</summary>
    /// <value>The default value is null.</value>
    public IReadOnlyList<string>? HistoryBehaviours { get; init; }

    /// <summary>The click-label column, or null: targets are positives against sampled negatives.</summary>
    /// <value>The default value is null. A log of impressions with clicks names it, so its own non-clicks are the negatives.</value>
    public string? Label { get; init; }

    /// <summary>What a number in the time column counts.</summary>
    /// <value>The default value is <see cref="EventTimeUnit.Seconds"/>, the unit of unix timestamps in MovieLens and Taobao.</value>
    public EventTimeUnit TimeUnit { get; init; } = EventTimeUnit.Seconds;

    /// <summary>Whether CSV/TSV files start with a header line naming their columns; without one, columns are named by their 1-based position (<c>user=1,item=2</c>).</summary>
    /// <value>The default value is true. Taobao's UserBehavior.csv has no header: <c>user=1,item=2,category=3,behaviour=4,time=5</c> with <c>header=no</c>. Parquet files always name their columns.</value>
    public bool HasHeader { get; init; } = true;

    /// <summary>
    /// Reads a mapping as the sample's <c>--columns</c> gives it: comma-separated <c>key=column</c> pairs with
    /// the keys user, item, time, category, behaviour, label, targets and history (behaviour values separated by
    /// <c>|</c>), timeunit (<c>s</c> or <c>ms</c>) and header (<c>yes</c> or <c>no</c>); e.g. <c>user=uid,item=sku,time=ts,behaviour=type,targets=pv</c>.
    /// </summary>
    /// <param name="text">The mapping.</param>
    /// <returns>The columns; <see cref="Validate"/> them before use.</returns>
    /// <exception cref="FormatException">A pair is not key=value, a key is unknown or repeated, or user, item or time is missing; the message names it.</exception>
    public static EventColumns Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pairs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            string key = eq > 0 ? part[..eq].Trim().ToLowerInvariant() : string.Empty;
            key = key == "behavior" ? "behaviour" : key;
            if (eq <= 0 || eq == part.Length - 1)
            {
                throw new FormatException($"columns: {Quote.Of(part)} is not key=column (e.g. user=user_id).");
            }

            if (key is not ("user" or "item" or "time" or "category" or "behaviour" or "label" or "targets" or "history" or "timeunit" or "header"))
            {
                throw new FormatException($"columns: unknown key {Quote.Of(key)}; the keys are user, item, time, category, behaviour, label, targets, history, timeunit and header.");
            }

            if (!pairs.TryAdd(key, part[(eq + 1)..].Trim()))
            {
                throw new FormatException($"columns: {key} is given twice.");
            }
        }

        string Required(string key) => pairs.TryGetValue(key, out string? column)
            ? column
            : throw new FormatException($"columns: {key}=<column> is missing; user, item and time are required (e.g. user=user_id,item=item_id,time=timestamp).");
        IReadOnlyList<string>? Values(string key) => pairs.TryGetValue(key, out string? list) ? list.Split('|', StringSplitOptions.TrimEntries) : null;
        var unit = pairs.GetValueOrDefault("timeunit") switch
        {
            null or "s" or "seconds" => EventTimeUnit.Seconds,
            "ms" or "milliseconds" => EventTimeUnit.Milliseconds,
            var other => throw new FormatException($"columns: timeunit {Quote.Of(other)} is not s (unix seconds) or ms (unix milliseconds)."),
        };
        bool header = pairs.GetValueOrDefault("header") switch
        {
            null or "yes" or "true" => true,
            "no" or "false" => false,
            var other => throw new FormatException($"columns: header {Quote.Of(other)} is not yes or no."),
        };
        return new EventColumns
        {
            HasHeader = header,
            User = Required("user"), Item = Required("item"), Time = Required("time"),
            Category = pairs.GetValueOrDefault("category"), Behaviour = pairs.GetValueOrDefault("behaviour"), Label = pairs.GetValueOrDefault("label"),
            TargetBehaviours = Values("targets"), HistoryBehaviours = Values("history"), TimeUnit = unit,
        };
    }

    /// <summary>Every problem with this mapping, each naming its property; empty when it is valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new OptionErrors();
        errors.Require(!string.IsNullOrWhiteSpace(User), nameof(User), User, "must name a column");
        errors.Require(!string.IsNullOrWhiteSpace(Item), nameof(Item), Item, "must name a column");
        errors.Require(!string.IsNullOrWhiteSpace(Time), nameof(Time), Time, "must name a column");
        var named = new[] { User, Item, Time, Category, Behaviour, Label }.Where(c => !string.IsNullOrEmpty(c)).ToList();
        if (named.Distinct(StringComparer.Ordinal).Count() < named.Count)
        {
            errors.Add($"{nameof(EventColumns)}: a column is mapped twice ({string.Join(", ", named)}); each role needs its own column.");
        }

        errors.Require(Behaviour is not null || (TargetBehaviours is null && HistoryBehaviours is null), nameof(TargetBehaviours), string.Join("|", TargetBehaviours ?? HistoryBehaviours ?? []), $"needs a {nameof(Behaviour)} column to read the values from");
        errors.Require(TargetBehaviours is not { Count: 0 }, nameof(TargetBehaviours), "(none)", "must list at least one value, or be null for every value");
        errors.Require(Enum.IsDefined(TimeUnit), nameof(TimeUnit), TimeUnit, "is not a defined unit");
        if (!HasHeader)
        {
            foreach (string? column in named.Where(c => !(int.TryParse(c, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int at) && at >= 1)))
            {
                errors.Add($"{nameof(HasHeader)} = false: column {Quote.Of(column)} must be a 1-based position (user=1,item=2,...), as the files have no header naming it.");
            }
        }

        return errors.Errors;
    }

    /// <summary>Throws when <see cref="Validate"/> finds any problem.</summary>
    /// <exception cref="DataOptionsException">The mapping is invalid; the message lists every problem.</exception>
    public void EnsureValid() => DataOptionsException.ThrowIfAny(nameof(EventColumns), Validate());

    /// <inheritdoc/>
    public override string ToString() => string.Join(",", new[]
    {
        $"user={User}", $"item={Item}", $"time={Time}",
        Category is null ? null : $"category={Category}",
        Behaviour is null ? null : $"behaviour={Behaviour}",
        TargetBehaviours is null ? null : $"targets={string.Join('|', TargetBehaviours)}",
        HistoryBehaviours is null ? null : $"history={string.Join('|', HistoryBehaviours)}",
        Label is null ? null : $"label={Label}",
        TimeUnit == EventTimeUnit.Seconds ? null : "timeunit=ms",
        HasHeader ? null : "header=no",
    }.Where(p => p is not null));
}
