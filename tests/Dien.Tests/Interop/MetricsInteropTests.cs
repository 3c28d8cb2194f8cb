using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Dien.Data;
using Dien.Data.Formats;
using Dien.Metrics;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Interop;

/// <summary>
/// The Python trainer's metrics are the .NET ones on a file split by user: every test user is unseen, so all map
/// to user id 0, and GAUC must group by the raw user (as <see cref="Sample.Group"/>), not by that id, or it is the AUC.
/// </summary>
[Collection("Sequential")]
public sealed class MetricsInteropTests
{
    [SkippableFact]
    public void PythonGaucGroupsByTheRawUserAsDotNetOnAFileSplitByUser()
    {
        Skip.If(PythonSide.Unavailable is not null, PythonSide.Unavailable);
        using var folder = new TempFolder();
        string test = Path.Combine(folder.Path, "test"), report = Path.Combine(folder.Path, "metrics.json");
        File.WriteAllText(test, SplitByUserFile(users: 40, perUser: 6, seed: 4));

        PythonSide.RunScript("metrics_script.py", test, report);

        var python = JsonNode.Parse(File.ReadAllText(report))!;
        float[] scores = python["scores"]!.AsArray().Select(s => (float)s!.GetValue<double>()).ToArray();
        var empty = new Vocabulary(new Dictionary<string, int>());
        var samples = new AuthorsFormatReader(test, new AuthorsVocabularies(empty, empty, empty)).Read().ToList();
        samples.Should().HaveCount(scores.Length);
        samples.Should().OnlyContain(s => s.User == 0, "the vocabulary knows none of the test users");
        float[] labels = samples.Select(s => s.Label).ToArray();
        long[] groups = samples.Select(s => s.Group!.Value).ToArray();

        double auc = ClickMetrics.Auc(scores, labels), gauc = ClickMetrics.GroupAuc(scores, labels, groups);
        python["auc"]!.GetValue<double>().Should().BeApproximately(auc, 1e-12);
        python["gauc"]!.GetValue<double>().Should().BeApproximately(gauc, 1e-12, "Python groups by the raw user, as .NET");
        python["logloss"]!.GetValue<double>().Should().BeApproximately(ClickMetrics.LogLoss(scores, labels), 1e-9);
        // Grouping by the user id would have made GAUC the AUC: the file is chosen so that the two differ.
        Math.Abs(gauc - auc).Should().BeGreaterThan(0.005);
    }

    // 6 lines a user, labels alternating as in the authors' files; histories of 2-7 items from 59, category = item mod 5.
    private static string SplitByUserFile(int users, int perUser, int seed)
    {
        var random = new Random(seed);
        var text = new StringBuilder();
        for (int u = 1; u <= users; u++)
        {
            for (int k = 0; k < perUser; k++)
            {
                var history = Enumerable.Range(0, random.Next(2, 8)).Select(_ => random.Next(1, 60)).ToArray();
                int item = random.Next(1, 60);
                text.Append(CultureInfo.InvariantCulture, $"{k % 2}\tu{u}\ti{item}\tc{item % 5}\t")
                    .Append(string.Join('\u0002', history.Select(h => $"i{h}"))).Append('\t')
                    .Append(string.Join('\u0002', history.Select(h => $"c{h % 5}"))).Append('\n');
            }
        }

        return text.ToString();
    }
}
