using Dien.Attention;
using Dien.Evolution;
using Dien.Extractor;
using Dien.Inference;
using Dien.Model;
using Dien.Tests.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;

namespace Dien.Tests.Inference;

/// <summary>
/// Ranking encodes each request's history once and runs only the target-dependent part per candidate
/// (<see cref="CtrModel.ScoreCandidates"/>): its scores must equal those of the batch that copies the history into
/// every candidate's row (the path before), for every model and evolution variant, histories of every length.
/// </summary>
[Collection("Sequential")]
public class HistoryEncodedOnceTests
{
    private const float Tolerance = 1e-5f;

    public static TheoryData<string, EvolutionVariant, AttentionForm, bool, bool> Models => new()
    {
        { nameof(DienModel), EvolutionVariant.Augru, AttentionForm.Mlp, true, true },
        { nameof(DienModel), EvolutionVariant.AugruAuthorsCode, AttentionForm.Mlp, true, true },
        { nameof(DienModel), EvolutionVariant.Agru, AttentionForm.Mlp, true, true },
        { nameof(DienModel), EvolutionVariant.Aigru, AttentionForm.Mlp, true, true },
        { nameof(DienModel), EvolutionVariant.Gru, AttentionForm.Mlp, true, true },
        // The libtorch compositions (no fused kernels) read the spread histories as broadcast views.
        { nameof(DienModel), EvolutionVariant.Augru, AttentionForm.Mlp, false, true },
        { nameof(DienModel), EvolutionVariant.Aigru, AttentionForm.Mlp, false, false },
        { nameof(DienModel), EvolutionVariant.Agru, AttentionForm.Bilinear, true, true },
        { nameof(DinModel), EvolutionVariant.Augru, AttentionForm.Mlp, true, true },
        { nameof(DinModel), EvolutionVariant.Augru, AttentionForm.Mlp, false, false },
        { nameof(DinModel), EvolutionVariant.Augru, AttentionForm.Bilinear, true, true },
        { "BaseModel", EvolutionVariant.Augru, AttentionForm.Mlp, true, true },
        { "BaseModel", EvolutionVariant.Augru, AttentionForm.Mlp, true, false },
    };

    private static CtrModel Build(string kind, EvolutionVariant evolution, AttentionForm attention, bool fused, bool sumTerms, int seed = 7)
    {
        torch.manual_seed(seed);
        var options = ModelTestKit.TinyOptions(attention, evolution);
        options.UseFusedKernels = fused;
        options.HeadSumTerms = sumTerms;
        return kind switch
        {
            nameof(DienModel) => new DienModel(options),
            nameof(DinModel) => new DinModel(options),
            _ => new SumPoolingModel(options),
        };
    }

    /// <summary>Requests with histories of the given lengths (0 and 1 included, shorter ones padded in a shared call), each with its own user, extra field and candidates.</summary>
    private static List<CandidateRequest> Requests(int seed, params int[] lengths)
    {
        var random = new Random(seed);
        return lengths.Select((length, i) =>
        {
            var history = Enumerable.Range(0, length).Select(_ => (long)random.Next(1, (int)ModelTestKit.Items)).ToArray();
            var candidates = Enumerable.Range(0, 1 + random.Next(0, 6)).Select(_ => (long)random.Next(1, (int)ModelTestKit.Items)).ToArray();
            return CandidateRequest.From(
                random.Next(1, (int)ModelTestKit.Users),
                history,
                history.Select(item => (item % (ModelTestKit.Categories - 1)) + 1).ToArray(),
                candidates,
                candidates.Select(item => (item % (ModelTestKit.Categories - 1)) + 1).ToArray(),
                [random.Next(0, 4)]);
        }).ToList();
    }

    private static float[] RowPerCandidate(CtrPredictor predictor, IReadOnlyList<CandidateRequest> requests)
    {
        predictor.EncodeHistoryOnce = false;
        try
        {
            return predictor.ScoreRequests(requests);
        }
        finally
        {
            predictor.EncodeHistoryOnce = true;
        }
    }

    private static void ShouldAgree(float[] actual, float[] expected, string because)
    {
        actual.Should().HaveCount(expected.Length, because);
        for (int k = 0; k < expected.Length; k++)
        {
            actual[k].Should().BeApproximately(expected[k], Tolerance, $"{because}, candidate {k}");
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Scores_equal_the_row_per_candidate_path_for_every_history_length(string kind, EvolutionVariant evolution, AttentionForm attention, bool fused, bool sumTerms)
    {
        using var predictor = new CtrPredictor(Build(kind, evolution, attention, fused, sumTerms), ownsModel: true);
        var requests = Requests(3, 0, 1, 3, 7, 2, 5);

        // Several requests in one call: each history is gathered to its candidates (and padded to the longest).
        var expected = RowPerCandidate(predictor, requests);
        var together = predictor.ScoreRequests(requests);
        ShouldAgree(together, expected, $"{kind} {evolution} {attention} fused {fused}, {requests.Count} requests in one call");
        expected.Distinct().Should().HaveCountGreaterThan(requests.Count, "the scores depend on both the history and the candidate");

        // Each request alone: its one history is broadcast to its candidates.
        int offset = 0;
        foreach (var request in requests)
        {
            var alone = predictor.ScoreRequests([request]);
            ShouldAgree(alone, RowPerCandidate(predictor, [request]), $"{kind} {evolution}, a request alone with {request.HistoryItems.Length} behaviours");
            ShouldAgree(alone, expected[offset..(offset + request.Rows)], $"{kind} {evolution}, a request alone and in a shared call");
            offset += request.Rows;
        }

        // Only empty histories: the call has width 0.
        var empty = Requests(4, 0, 0);
        ShouldAgree(predictor.ScoreRequests(empty), RowPerCandidate(predictor, empty), $"{kind} {evolution}, empty histories only");
    }

    [Fact]
    public void The_public_entry_point_scores_like_the_row_per_candidate_batch()
    {
        using var predictor = new CtrPredictor(Build(nameof(DienModel), EvolutionVariant.Augru, AttentionForm.Mlp, true, true), ownsModel: true);
        long[] history = [3, 5, 8, 2], historyCategories = [1, 2, 3, 1], candidates = [1, 4, 9, 11, 6], candidateCategories = [2, 2, 3, 4, 1];
        var scores = predictor.ScoreCandidates(2, history, historyCategories, candidates, candidateCategories, [1]);
        var rows = predictor.Score(CandidateRequest.ToBatch([CandidateRequest.From(2, history, historyCategories, candidates, candidateCategories, [1])]));
        ShouldAgree(scores, rows, "ScoreCandidates against Score of the copied rows");
    }

    [Fact]
    public void Each_history_runs_through_the_extractor_once_however_many_candidates()
    {
        var model = Build(nameof(DienModel), EvolutionVariant.Augru, AttentionForm.Mlp, true, true);
        var extractor = model.modules().OfType<InterestExtractor>().Single();
        using var predictor = new CtrPredictor(model, ownsModel: true);
        var requests = Requests(5, 4, 6, 1, 3);
        int candidates = requests.Sum(r => r.Rows);
        candidates.Should().BeGreaterThan(requests.Count);

        long before = extractor.RowsRun;
        predictor.ScoreRequests(requests);
        (extractor.RowsRun - before).Should().Be(requests.Count, "one extractor row per request");

        before = extractor.RowsRun;
        predictor.ScoreCandidates(1, [3, 4], [1, 2], [5, 6, 7, 8, 9, 10], [1, 1, 2, 2, 3, 3], [0]);
        (extractor.RowsRun - before).Should().Be(1, "one request, six candidates");

        before = extractor.RowsRun;
        RowPerCandidate(predictor, requests);
        (extractor.RowsRun - before).Should().Be(candidates, "the row-per-candidate path runs the extractor once per candidate");
    }

    [Fact]
    public async Task The_batching_scorer_encodes_each_gathered_request_once_and_scores_as_alone()
    {
        var model = Build(nameof(DienModel), EvolutionVariant.Augru, AttentionForm.Mlp, true, true);
        var extractor = model.modules().OfType<InterestExtractor>().Single();
        using var predictor = new CtrPredictor(model, ownsModel: true);
        var requests = Requests(6, 5, 0, 2, 7, 1, 4, 6, 3);
        var expected = requests.Select(r => predictor.ScoreRequests([r])).ToList();
        int rows = requests.Sum(r => r.Rows);

        long before = extractor.RowsRun;
        using (var scorer = new BatchingScorer(new BatchingScorerOptions { MaxWait = TimeSpan.FromSeconds(1), MaxBatchRows = rows }))
        {
            var results = await Task.WhenAll(requests.Select(r =>
                scorer.ScoreCandidatesAsync(predictor, r.UserId, r.HistoryItems, r.HistoryCategories, r.CandidateItems, r.CandidateCategories, r.ExtraFields)));
            for (int i = 0; i < requests.Count; i++)
            {
                ShouldAgree(results[i], expected[i], $"request {i} gathered with the others");
            }
        }

        (extractor.RowsRun - before).Should().Be(requests.Count, $"the {requests.Count} requests ({rows} candidates) were gathered into one call, each history encoded once");
    }
}
