using System.Globalization;
using Dien.Checkpoints;
using Dien.Data.Batching;
using Dien.Inference;
using Dien.Model;
using Dien.Tests.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;

namespace Dien.Tests.Inference;

/// <summary>
/// <see cref="CtrPredictor.WarmUp"/> compiles the scoring code before the first real call (checked in a fresh process,
/// where nothing is compiled yet), for every model kind, and changes no score.
/// </summary>
[Collection("Sequential")]
public sealed class WarmUpTests
{
    private static CtrModel Build(string kind) => ModelKinds.Create(kind, ModelTestKit.TinyOptions());

    /// <summary>A ranking call, a larger one and a batch, as a service makes them, with ids of the tiny options.</summary>
    private sealed class ServiceCalls
    {
        private readonly long[] _history = [3, 7, 2, 9, 11], _historyCategories = [1, 4, 2, 3, 1];
        private readonly long[] _candidates = Enumerable.Range(0, 100).Select(i => 1L + (i % 11)).ToArray();
        private readonly long[] _candidateCategories = Enumerable.Range(0, 100).Select(i => 1L + (i % 4)).ToArray();
        private readonly BatchArrays _batch;

        public ServiceCalls() => _batch = new BatchArrays
        {
            Size = 100,
            Width = 5,
            UserIds = Enumerable.Range(0, 100).Select(i => 1L + (i % 5)).ToArray(),
            TargetItems = _candidates,
            TargetCategories = _candidateCategories,
            HistoryItems = Enumerable.Range(0, 500).Select(i => 1L + (i % 11)).ToArray(),
            HistoryCategories = Enumerable.Range(0, 500).Select(i => 1L + (i % 4)).ToArray(),
            Lengths = Enumerable.Range(0, 100).Select(i => 1 + (i % 5)).ToArray(),
            ExtraFieldCount = 1,
            ExtraFields = Enumerable.Range(0, 100).Select(i => (long)(i % 4)).ToArray(),
        };

        public void Run(CtrPredictor predictor)
        {
            predictor.ScoreCandidates(2, _history, _historyCategories, [5], [2], extraFields: [3]);
            predictor.ScoreCandidates(2, _history, _historyCategories, _candidates, _candidateCategories, extraFields: [3]);
            predictor.Score(_batch);
        }
    }

    /// <summary>The child process's side of <see cref="In_a_fresh_process_the_first_calls_after_WarmUp_compile_almost_nothing"/>.</summary>
    internal static int FirstCalls(string path, bool warm)
    {
        using var predictor = CtrPredictor.Load(path);
        if (warm)
        {
            predictor.WarmUp();
        }

        var calls = new ServiceCalls();
        long before = System.Runtime.JitInfo.GetCompiledMethodCount(currentThread: true);
        calls.Run(predictor);
        Console.Out.WriteLine($"compiled {System.Runtime.JitInfo.GetCompiledMethodCount(currentThread: true) - before}");
        return 0;
    }

    [Theory]
    [MemberData(nameof(ModelTestKit.Kinds), MemberType = typeof(ModelTestKit))]
    public void WarmUp_changes_no_score(string kind)
    {
        torch.manual_seed(7);
        using var predictor = new CtrPredictor(Build(kind), ownsModel: true);
        float[] Rank() => predictor.ScoreCandidates(2, [3, 7, 2], [1, 4, 2], [5, 6, 8], [2, 1, 3], extraFields: [3]);
        var before = Rank();
        predictor.WarmUp();
        Rank().Should().Equal(before);
    }

    [Fact]
    public void WarmUp_after_dispose_fails_cleanly()
    {
        var predictor = new CtrPredictor(Build(nameof(DienModel)), ownsModel: true);
        predictor.Dispose();
        predictor.Invoking(p => p.WarmUp()).Should().Throw<ObjectDisposedException>();
    }

    [Fact]
    public async Task In_a_fresh_process_the_first_calls_after_WarmUp_compile_almost_nothing()
    {
        string path = Path.Combine(Path.GetTempPath(), $"dien-warm-up-{Guid.NewGuid():N}.dien");
        try
        {
            torch.manual_seed(8);
            using (var model = new DienModel(ModelTestKit.TinyOptions()))
            {
                Checkpoint.Save(path, model);
            }

            int cold = await CompiledInFirstCalls(path, "cold");
            int warm = await CompiledInFirstCalls(path, "warm");
            cold.Should().BeGreaterThan(100, "a fresh process compiles the scoring code in its first calls");
            warm.Should().BeLessThan(cold / 10, "WarmUp compiled it before them");
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static async Task<int> CompiledInFirstCalls(string path, string mode)
    {
        var (exitCode, stdout, stderr) = await ChildProcess.RunAsync("first-calls", path, mode);
        exitCode.Should().Be(0, $"the child scores to its end (stdout: {stdout}; stderr: {stderr})");
        string line = stdout.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith("compiled ", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"the child printed no count (stdout: {stdout}; stderr: {stderr})");
        return int.Parse(line["compiled ".Length..], CultureInfo.InvariantCulture);
    }
}
