using System.Globalization;
using Dien.Inference;
using Spectre.Console;

namespace Dien.Train;

/// <summary>The predict command: load a checkpoint and rank candidate items for one user's history.</summary>
internal static class PredictRun
{
    public static int Run(string checkpoint, long user, IReadOnlyList<long> history, IReadOnlyList<long>? candidates, int top)
    {
        if (!File.Exists(checkpoint))
        {
            throw new ArgumentException($"--checkpoint {checkpoint}: no such file (train first: the train command prints where it saved one).");
        }

        if (top < 1)
        {
            throw new ArgumentException($"--top {top}: must be at least 1.");
        }

        using var predictor = CtrPredictor.Load(checkpoint);
        var categories = predictor.Contents!.Data.ItemCategories;
        if (categories.Count == 0)
        {
            throw new ArgumentException($"--checkpoint {checkpoint}: it records no item categories, so items cannot be given their categories.");
        }

        long CategoryOf(long item, string option) => categories.TryGetValue(item, out long category)
            ? category
            : throw new ArgumentException($"{option}: item {item} is not in the checkpoint's item list.");

        var historyCategories = history.Select(item => CategoryOf(item, "--history")).ToArray();
        var seen = history.ToHashSet();
        var pool = candidates ?? categories.Keys.Where(item => !seen.Contains(item)).Order().ToArray();
        var poolCategories = pool.Select(item => CategoryOf(item, "--candidates")).ToArray();

        var scores = predictor.ScoreCandidates(user, history, historyCategories, pool, poolCategories);
        // Full precision (the shortest text that reads back as the same float): a score can be checked against another runtime's.
        var table = new Table().Title($"top {Math.Min(top, pool.Count)} of {pool.Count} candidates for user {user}").AddColumns("rank", "item", "category", "p(click)");
        int rank = 1;
        foreach (int i in Enumerable.Range(0, pool.Count).OrderByDescending(i => scores[i]).ThenBy(i => pool[i]).Take(top))
        {
            table.AddRow(rank++.ToString(CultureInfo.InvariantCulture), pool[i].ToString(CultureInfo.InvariantCulture),
                poolCategories[i].ToString(CultureInfo.InvariantCulture), scores[i].ToString("R", CultureInfo.InvariantCulture));
        }

        AnsiConsole.Write(table);
        return 0;
    }
}
