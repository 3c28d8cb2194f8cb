using System.Diagnostics.Metrics;
using Dien.Data.Batching;
using Dien.Inference;
using Dien.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;

namespace Dien.Tests.Inference;

[Collection("Sequential")]
public class BatchingScorerTests
{
    private sealed record Request(long User, long[] History, long[] HistoryCategories, long[] Candidates, long[] CandidateCategories);

    /// <summary>
    /// A model whose every row is computed by the same float operations whatever the batch: scalar lookups of the user,
    /// the target, its category and the last valid behaviour, added and scaled (each a correctly rounded IEEE operation,
    /// so vectorised and scalar loops agree). The scorer's bookkeeping (each caller gets exactly its own user, history,
    /// length and candidates back, in order) is then checked bit for bit.
    /// </summary>
    private sealed class RowwiseModel : CtrModel
    {
        private readonly TorchSharp.Modules.Embedding items;
        private readonly TorchSharp.Modules.Embedding categories;
        private readonly TorchSharp.Modules.Embedding users;

        public RowwiseModel(CtrModelOptions options)
            : base(nameof(RowwiseModel), options)
        {
            items = torch.nn.Embedding(options.ItemVocabularySize, 1);
            categories = torch.nn.Embedding(options.CategoryVocabularySize, 1);
            users = torch.nn.Embedding(options.UserVocabularySize, 1);
            RegisterComponents();
        }

        protected override CtrOutput Score(BehaviourBatch batch)
        {
            using var scope = torch.NewDisposeScope();
            var last = batch.HistoryItems.gather(1, (batch.Lengths.to(torch.int64) - 1).clamp_min(0).unsqueeze(1)).squeeze(1);
            var lastCategory = batch.HistoryCategories.gather(1, (batch.Lengths.to(torch.int64) - 1).clamp_min(0).unsqueeze(1)).squeeze(1);
            var logit = items.call(batch.TargetItems).squeeze(-1) + categories.call(batch.TargetCategories).squeeze(-1);
            logit = logit + users.call(batch.UserIds).squeeze(-1);
            logit = logit + (items.call(last).squeeze(-1) * 0.5f);
            logit = logit + (categories.call(lastCategory).squeeze(-1) * 0.25f);
            logit = logit + (batch.Lengths.to(torch.float32) * 0.125f);
            var probability = logit * 0.01f;
            return new CtrOutput(logit.MoveToOuterDisposeScope(), probability.MoveToOuterDisposeScope(), null, null, null);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                items.Dispose();
                categories.Dispose();
                users.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    private static CtrPredictor Predictor(int seed)
    {
        torch.manual_seed(seed);
        return new CtrPredictor(new RowwiseModel(new CtrModelOptions { ItemVocabularySize = 60, CategoryVocabularySize = 7, UserVocabularySize = 12 }), ownsModel: true);
    }

    /// <summary>DIEN itself, small.</summary>
    private static CtrPredictor CtrPredictor(int seed)
    {
        torch.manual_seed(seed);
        var options = new CtrModelOptions { ItemVocabularySize = 60, CategoryVocabularySize = 7, UserVocabularySize = 12, UseUserField = true, HeadHiddenSizes = [24, 12] };
        return new CtrPredictor(new DienModel(options), ownsModel: true);
    }

    /// <summary>Requests of many shapes: histories of 1 to 25 behaviours, 1 to 30 candidates.</summary>
    private static List<Request> Requests(int seed, int count)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            var history = Enumerable.Range(0, random.Next(1, 26)).Select(_ => (long)random.Next(1, 60)).ToArray();
            var candidates = Enumerable.Range(0, random.Next(1, 31)).Select(_ => (long)random.Next(1, 60)).ToArray();
            return new Request(random.Next(0, 12), history, history.Select(i => (i % 6) + 1).ToArray(), candidates, candidates.Select(i => (i % 6) + 1).ToArray());
        }).ToList();
    }

    private static float[] Alone(CtrPredictor predictor, Request r) =>
        predictor.ScoreCandidates(r.User, r.History, r.HistoryCategories, r.Candidates, r.CandidateCategories);

    private static Task<float[]> Batched(BatchingScorer scorer, CtrPredictor predictor, Request r, CancellationToken token = default) =>
        scorer.ScoreCandidatesAsync(predictor, r.User, r.History, r.HistoryCategories, r.Candidates, r.CandidateCategories, cancellationToken: token);

    [Fact]
    public async Task Every_caller_gets_its_own_scores_bit_for_bit_as_unbatched_calls()
    {
        using var predictor = Predictor(5);
        var requests = Requests(11, 40);
        var expected = requests.Select(r => Alone(predictor, r)).ToList();
        int rows = requests.Sum(r => r.Candidates.Length);

        var requestsPerCall = new List<int>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == BatchingScorer.MeterName && instrument.Name == "dien.scorer.batch.requests")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((_, value, _, _) =>
        {
            lock (requestsPerCall)
            {
                requestsPerCall.Add(value);
            }
        });
        listener.Start();

        // The longest wait and a batch limit of exactly all rows: the worker gathers every request into one call.
        using (var scorer = new BatchingScorer(new BatchingScorerOptions { MaxWait = TimeSpan.FromSeconds(1), MaxBatchRows = rows }))
        {
            var tasks = requests.Select(r => Batched(scorer, predictor, r)).ToList();
            var results = await Task.WhenAll(tasks);
            for (int i = 0; i < requests.Count; i++)
            {
                results[i].Should().Equal(expected[i], $"request {i} ({requests[i].History.Length} behaviours, {requests[i].Candidates.Length} candidates) is scored bit for bit as alone");
            }
        }

        requestsPerCall.Should().Equal([40], "all 40 requests were queued before the wait ended");

        // And from many threads at once, with the default wait and smaller batches.
        using (var scorer = new BatchingScorer(new BatchingScorerOptions { MaxBatchRows = 128 }))
        {
            var results = new float[requests.Count][];
            await Parallel.ForEachAsync(Enumerable.Range(0, requests.Count), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
                results[i] = await Batched(scorer, predictor, requests[i]));
            for (int i = 0; i < requests.Count; i++)
            {
                results[i].Should().Equal(expected[i]);
            }
        }
    }

    /// <summary>
    /// libtorch's CPU kernels are not batch-invariant: a row at the edge of a matrix-product tile in one call is inside a
    /// tile in another, so its sums are ordered differently; elementwise functions such as the sigmoid take a vectorised
    /// path for most rows and a scalar one for the tail; a padded history changes a reduction's blocking. DIEN's batched
    /// scores therefore agree with its unbatched ones to rounding (about one unit in the last place), not bit for bit.
    /// </summary>
    [Fact]
    public async Task Dien_scores_batched_agree_with_unbatched_to_rounding()
    {
        using var predictor = CtrPredictor(5);
        var requests = Requests(11, 40);
        var expected = requests.Select(r => Alone(predictor, r)).ToList();
        using var scorer = new BatchingScorer(new BatchingScorerOptions { MaxWait = TimeSpan.FromSeconds(1), MaxBatchRows = requests.Sum(r => r.Candidates.Length) });
        var results = await Task.WhenAll(requests.Select(r => Batched(scorer, predictor, r)));
        for (int i = 0; i < requests.Count; i++)
        {
            results[i].Should().HaveCount(expected[i].Length);
            for (int c = 0; c < expected[i].Length; c++)
            {
                results[i][c].Should().BeApproximately(expected[i][c], 1e-6f, $"request {i}, candidate {c}");
            }
        }
    }

    [Fact]
    public async Task Requests_for_two_predictors_are_never_scored_together_and_a_bad_id_fails_only_its_request()
    {
        using var first = Predictor(5);
        using var second = Predictor(6);
        var requests = Requests(12, 12);
        var bad = requests[3] with { Candidates = [70] , CandidateCategories = [1] };
        using var scorer = new BatchingScorer(new BatchingScorerOptions { MaxWait = TimeSpan.FromSeconds(1), MaxBatchRows = 10_000 });
        var tasks = requests.Select((r, i) => Batched(scorer, i % 2 == 0 ? first : second, r)).ToList();
        var badTask = Batched(scorer, first, bad);
        for (int i = 0; i < requests.Count; i++)
        {
            (await tasks[i]).Should().Equal(Alone(i % 2 == 0 ? first : second, requests[i]));
        }

        var failing = async () => await badTask;
        await failing.Should().ThrowAsync<ArgumentException>().WithMessage("*TargetItems*70*");
    }

    [Fact]
    public async Task A_full_queue_refuses_at_once_and_dispose_finishes_what_was_queued()
    {
        using var predictor = Predictor(5);
        var request = Requests(13, 1)[0] with { Candidates = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], CandidateCategories = [2, 3, 4, 5, 6, 1, 2, 3, 4, 5] };
        var scorer = new BatchingScorer(new BatchingScorerOptions { MaxWait = TimeSpan.FromSeconds(1), MaxBatchRows = 1000, MaxQueuedRows = 25 });
        var one = Batched(scorer, predictor, request);
        var two = Batched(scorer, predictor, request);
        Action three = () => _ = Batched(scorer, predictor, request);
        three.Should().Throw<ScorerOverloadedException>().WithMessage("*20 rows wait*25*");
        using var cancel = new CancellationTokenSource();
        var cancelled = Batched(scorer, predictor, request with { Candidates = [1], CandidateCategories = [2] }, cancel.Token);
        cancel.Cancel();

        // Dispose cuts the wait short and scores both queued requests before it returns.
        scorer.Dispose();
        one.IsCompletedSuccessfully.Should().BeTrue();
        (await one).Should().Equal(Alone(predictor, request));
        (await two).Should().Equal(Alone(predictor, request));
        cancelled.IsCanceled.Should().BeTrue();
        Action late = () => _ = Batched(scorer, predictor, request);
        late.Should().Throw<ObjectDisposedException>();
        var options = () => new BatchingScorer(new BatchingScorerOptions { MaxBatchRows = 0, MaxWait = TimeSpan.FromSeconds(-1) });
        options.Should().ThrowExactly<ScorerOptionsException>().WithMessage("*MaxWait*MaxBatchRows*")
            .Which.Errors.Should().HaveCount(2, "each bad option is one problem");
    }
}
