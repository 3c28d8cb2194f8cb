using Dien.Data.Events;

namespace Dien.Data.Converters;

/// <summary>
/// Converts a user's own event log (one row per event: user, item, time, and optionally category, behaviour type
/// and click label) into samples, from Parquet or CSV/TSV, one file or a folder of part files.
/// </summary>
/// <remarks>
/// Rules, as the other converters:
/// <list type="bullet">
/// <item>Order: each user's events by time, ties in file order (files in ordinal order of their paths).</item>
/// <item>Targets: every row whose behaviour is a target value (<see cref="EventColumns.TargetBehaviours"/>);
/// <see cref="ConversionOptions.TrainingTargets"/> says whether each one or only a user's last one trains.
/// Without a label column each is a positive with a sampled negative (an item the user never had); with one, each
/// is a pair with its own label.</item>
/// <item>History: the user's earlier rows whose behaviour is a history value (and, with a label column, that
/// were clicked), the most recent <see cref="ConversionOptions.MaxHistoryLength"/> of them.</item>
/// <item>Ids: users, items and categories by descending frequency, ties by ordinal text, from 1; an integer
/// column's values are their decimal text. An item's category is the first the log gives it.</item>
/// <item>Split: by user (seeded), or by time (<see cref="ConversionOptions.SplitByTime"/>). Negative pool: every
/// used row's item.</item>
/// </list>
/// The read streams: one line, or one row group of the mapped columns, at a time; the log is held as ids, 25
/// bytes per event, and past about 4 million events (100 MB) in a temporary file (under <c>TMPDIR</c>), so that
/// memory grows with the vocabularies, not with the rows; the pairs are then built user by user in runs of that
/// size.
/// </remarks>
public static class EventLogConverter
{
    /// <summary>Reads the log and builds the data set.</summary>
    /// <param name="path">A <c>.parquet</c>, <c>.csv</c> or <c>.tsv</c> (<c>.tab</c>) file, or a folder whose files of those kinds (subfolders included, names starting with <c>.</c> or <c>_</c> left out) are the parts of one log.</param>
    /// <param name="columns">Which columns hold what.</param>
    /// <param name="options">Split, seed, history cut, bad lines.</param>
    /// <returns>The samples, vocabularies, item-to-category map and negative pool.</returns>
    /// <exception cref="DataFormatException">A file that is not a readable Parquet file, a header or schema without a mapped column or with a column of the wrong type (never skipped); or a bad row (a null id, an unparsable time or label, a wrong field count) unless <see cref="ReadOptions.SkipBadLines"/>. The message names the file, the line (or row group and row), the column and the value.</exception>
    /// <exception cref="DataOptionsException">The options or the mapping are invalid, or a time split's cut leaves nothing to train on or to test.</exception>
    /// <exception cref="FileNotFoundException">No such file or folder, or a folder without part files.</exception>
    /// <exception cref="IOException">A file could not be read, or the temporary folder could not hold the spilled events of a large log (the message names the file).</exception>
    public static ConvertedDataset Convert(string path, EventColumns columns, ConversionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(columns);
        options ??= new ConversionOptions();
        options.EnsureValid();
        columns.EnsureValid();
        var bad = new ConverterSupport.BadLines(options.Read);
        using var table = EventLogReader.Read(path, columns, bad);
        return Build(table, options, bad);
    }

    /// <summary>The pairs of a table read by <see cref="EventLogReader"/>.</summary>
    internal static ConvertedDataset Build(EventTable table, ConversionOptions options, ConverterSupport.BadLines bad)
    {
        var (users, userIds) = table.Users.Finish();
        var (items, itemIds) = table.Items.Finish();
        var (categories, categoryIds) = table.Categories.Finish();
        var itemCategories = new long[items.Size];
        for (int item = 0; item < itemIds.Length; item++)
        {
            int category = table.CategoryOfItem(item);
            if (category >= 0 && itemCategories[itemIds[item]] == 0)
            {
                itemCategories[itemIds[item]] = categoryIds[category];
            }
        }

        var builder = new PairBuilder(itemCategories, options);
        builder.SetTestUsers(ConverterSupport.TestUsers(userIds.Select(id => (long)id), options.TestUserFraction, options.Seed));
        string source = string.Join(", ", table.Files);
        if (options.SplitByTime is { } split && table.Events > 0)
        {
            var (validationCut, cut) = split.Resolve(table.Times(), source);
            builder.SetTimeCuts(validationCut, cut);
        }

        bool labelled = table.Columns.Label is not null;
        var occurrences = new long[itemCategories.Length];
        long withoutTarget = 0;
        var order = Enumerable.Range(0, table.UserCount).OrderBy(u => userIds[u]).ToArray();
        foreach (var (user, events) in table.ByUser(order))
        {
            var ids = new long[events.Length];
            var cats = new long[events.Length];
            var times = new long[events.Length];
            var roles = new EventTable.Role[events.Length];
            for (int t = 0; t < events.Length; t++)
            {
                ids[t] = itemIds[events[t].Item];
                cats[t] = events[t].Category >= 0 ? categoryIds[events[t].Category] : 0;
                times[t] = events[t].Time;
                roles[t] = events[t].Role;
                occurrences[ids[t]]++;
            }

            int target = Array.FindLastIndex(roles, r => (r & EventTable.Role.Target) != 0);
            if (target < 0)
            {
                withoutTarget++;
                continue;
            }

            var behaviours = new UserBehaviours(
                ids, cats, Labels: null, times,
                CanBeTarget: t => (roles[t] & EventTable.Role.Target) != 0,
                InHistory: roles.Select(r => (r & EventTable.Role.History) != 0).ToArray(),
                TargetLabels: labelled ? roles.Select(r => (r & EventTable.Role.Clicked) != 0 ? 1f : 0f).ToArray() : null);
            builder.Add(userIds[user], behaviours, target);
        }

        return builder.ToDataset(users, items, categories, occurrences, source, table.Lines, bad, otherDropped: withoutTarget);
    }
}
