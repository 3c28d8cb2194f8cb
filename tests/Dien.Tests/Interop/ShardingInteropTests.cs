using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Interop;

/// <summary>
/// The DDP trainer's rows per process, on a file whose lines alternate negative and positive as the authors' files
/// do: every process sees both labels in the file's proportion (line k mod N gave each process of an even N one
/// label), the processes' slices make up the global batch one process trains on, each epoch is drawn anew, and the
/// validation users are held out by user.
/// </summary>
[Collection("Sequential")]
public sealed class ShardingInteropTests
{
    [SkippableFact]
    public void EveryProcessSeesBothLabelsOfAnAlternatingFileAndTheSlicesMakeTheGlobalBatch()
    {
        Skip.If(PythonSide.Unavailable is not null, PythonSide.Unavailable);
        using var folder = new TempFolder();
        string train = Path.Combine(folder.Path, "train"), report = Path.Combine(folder.Path, "sharding.json");
        File.WriteAllText(train, AlternatingFile(users: 200, pairsPerUser: 5));

        PythonSide.RunScript("sharding_script.py", train, report);

        var figures = JsonNode.Parse(File.ReadAllText(report))!;
        figures["positive_share_overall"]!.GetValue<double>().Should().Be(0.5);
        figures["epoch_orders_differ"]!.GetValue<bool>().Should().BeTrue("each epoch is shuffled anew (seed and epoch)");
        var trainUsers = figures["train_users"]!.AsArray().Select(u => u!.GetValue<string>()).ToHashSet();
        var validationUsers = figures["validation_users"]!.AsArray().Select(u => u!.GetValue<string>()).ToList();
        validationUsers.Should().HaveCount(20, "10% of the 200 users are held out").And.OnlyContain(u => !trainUsers.Contains(u));
        figures["validation_rows"]!.GetValue<int>().Should().Be(200, "a held-out user takes all 10 of its lines along");
        foreach (var (world, node) in figures["worlds"]!.AsObject())
        {
            node!["slices_make_the_global_batch"]!.GetValue<bool>().Should().BeTrue($"with {world} processes");
            foreach (var epoch in node["positive_share"]!.AsArray())
            {
                // 1,800 rows: a process of 4 sees 448 an epoch; binomial spread about 0.024, so 0.1 is 4 sigma.
                epoch!.AsArray().Select(s => s!.GetValue<double>()).Should().OnlyContain(s => Math.Abs(s - 0.5) < 0.1, $"with {world} processes each sees both labels");
            }
        }
    }

    // As the authors' files: per user, pairs of a negative then a positive line with the same history.
    private static string AlternatingFile(int users, int pairsPerUser)
    {
        var text = new StringBuilder();
        for (int u = 1; u <= users; u++)
        {
            for (int k = 0; k < pairsPerUser; k++)
            {
                string history = string.Join('\u0002', Enumerable.Range(k + 1, 3).Select(i => $"i{i}"));
                string categories = string.Join('\u0002', Enumerable.Range(k + 1, 3).Select(i => $"c{i % 4}"));
                text.Append(CultureInfo.InvariantCulture, $"0\tu{u}\ti{u + 50}\tc{u % 4}\t{history}\t{categories}\n");
                text.Append(CultureInfo.InvariantCulture, $"1\tu{u}\ti{k + 4}\tc{(k + 4) % 4}\t{history}\t{categories}\n");
            }
        }

        return text.ToString();
    }
}
