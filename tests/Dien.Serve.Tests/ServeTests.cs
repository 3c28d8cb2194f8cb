using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using FluentAssertions;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Dien.Serve.Tests;

[Collection("Sequential")]
public class ServeTests
{
    private static readonly long[] History = [3, 17, 17, 42, 8];
    private static readonly long[] Candidates = [5, 11, 23, 37, 41, 50, 59, 2];

    private static object Body(long[] history, long[] candidates, string user = "user-4") => new
    {
        user,
        history = history.Select(i => new { item = $"item-{i}" }),
        candidates = candidates.Select(i => new { item = $"item-{i}" }),
    };

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    /// <summary>Polls <c>GET /model</c> until <paramref name="done"/> holds; fails after a minute (a bound, not a timing).</summary>
    private static async Task<JsonElement> WaitForModel(HttpClient client, Func<JsonElement, bool> done)
    {
        for (int i = 0; i < 600; i++)
        {
            var model = await Json(await client.GetAsync(new Uri("/model", UriKind.Relative)));
            if (done(model))
            {
                return model;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("The service did not reach the expected model state within a minute.");
    }

    [Fact]
    public async Task Rank_orders_candidates_best_first_with_the_scores_and_version_of_the_served_model()
    {
        using var serve = new ServeFixture();
        var expected = serve.Expected(4, History, Candidates);
        var (sha, _) = ServedModel.Fingerprint(serve.CheckpointPath);

        var response = await serve.Client.PostAsJsonAsync("/rank", Body(History, Candidates));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Headers.GetValues("X-Model-Sha256").Should().Equal(sha);
        response.Headers.GetValues("X-Model-Version").Should().Equal(sha[..12]);
        response.Headers.Contains("X-Model-Time").Should().BeTrue();
        var json = await Json(response);
        json.GetProperty("model").GetString().Should().Be(sha[..12]);
        var items = json.GetProperty("items").EnumerateArray().Select(e => (Item: e.GetProperty("item").GetString()!, Score: e.GetProperty("score").GetSingle())).ToList();
        items.Select(e => e.Item).Should().BeEquivalentTo(Candidates.Select(i => $"item-{i}"));
        items.Select(e => e.Score).Should().BeInDescendingOrder();
        foreach (var (item, score) in items)
        {
            score.Should().BeApproximately(expected[Array.IndexOf(Candidates, long.Parse(item["item-".Length..], System.Globalization.CultureInfo.InvariantCulture))], 1e-6f, item);
        }

        var expectedOrder = Enumerable.Range(0, Candidates.Length).OrderByDescending(i => expected[i]).Select(i => $"item-{Candidates[i]}");
        items.Select(e => e.Item).Should().Equal(expectedOrder);
        json.GetProperty("unknown").GetProperty("items").GetInt32().Should().Be(0);

        // Unknown ids are allowed, scored as id 0, and counted.
        var unknown = await serve.Client.PostAsJsonAsync("/score", new
        {
            user = "nobody",
            history = new[] { new { item = "item-3", category = (string?)null }, new { item = "no-such-item", category = (string?)"cat-2" } },
            candidates = new[] { new { item = "item-5", category = (string?)"no-such-category" }, new { item = "item-6", category = (string?)null } },
        });
        unknown.StatusCode.Should().Be(HttpStatusCode.OK);
        var counts = (await Json(unknown)).GetProperty("unknown");
        counts.GetProperty("users").GetInt32().Should().Be(1);
        counts.GetProperty("items").GetInt32().Should().Be(1);
        // The unknown item has no stored category; the other one was named and is unknown.
        counts.GetProperty("categories").GetInt32().Should().Be(1);

        (await serve.Client.GetAsync(new Uri("/healthz", UriKind.Relative))).StatusCode.Should().Be(HttpStatusCode.OK);
        var ready = await serve.Client.GetAsync(new Uri("/readyz", UriKind.Relative));
        ready.StatusCode.Should().Be(HttpStatusCode.OK);
        ready.Headers.GetValues("X-Model-Version").Should().Equal(sha[..12]);
        var model = await Json(await serve.Client.GetAsync(new Uri("/model", UriKind.Relative)));
        model.GetProperty("sha256").GetString().Should().Be(sha);
        model.GetProperty("kind").GetString().Should().Be("DienModel");
    }

    [Fact]
    public async Task Invalid_requests_get_a_problem_details_400_naming_each_bad_field()
    {
        using var serve = new ServeFixture(("Serve:MaxCandidates", "5"));

        async Task<JsonElement> Errors(string body)
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            var response = await serve.Client.PostAsync(new Uri("/rank", UriKind.Relative), content);
            response.StatusCode.Should().Be(HttpStatusCode.BadRequest, body);
            response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
            var json = await Json(response);
            json.GetProperty("status").GetInt32().Should().Be(400);
            return json.GetProperty("errors");
        }

        var missing = await Errors("""{"history":[{"item":"item-1"},{"category":"cat-1"}],"candidates":[]}""");
        missing.EnumerateObject().Select(p => p.Name).Should().BeEquivalentTo("user", "history[1].item", "candidates");

        var tooMany = await Errors(JsonSerializer.Serialize(Body(History, [1, 2, 3, 4, 5, 6])));
        tooMany.GetProperty("candidates")[0].GetString().Should().Contain("6 candidates").And.Contain("at most 5");

        var wrongType = await Errors("""{"user":"user-1","history":[{"item":"item-1"}],"candidates":[{"item":"item-2"},{"item":true}]}""");
        wrongType.EnumerateObject().Select(p => p.Name).Should().Equal("candidates[1].item");

        var broken = await Errors("""{"user":"user-1","history":[""");
        broken.EnumerateObject().Should().ContainSingle();

        var nulls = await Errors("""{"user":"user-1","history":[null],"candidates":[{"item":"item-2","category":""}]}""");
        nulls.EnumerateObject().Select(p => p.Name).Should().BeEquivalentTo("history[0]", "candidates[0].category");
    }

    [Fact]
    public async Task A_checkpoint_replaced_during_concurrent_requests_is_swapped_in_without_a_failed_or_mixed_answer()
    {
        using var serve = new ServeFixture();
        var before = serve.Expected(4, History, Candidates);
        string first = ServedModel.Fingerprint(serve.CheckpointPath).Sha256[..12];
        var answers = new System.Collections.Concurrent.ConcurrentBag<(HttpStatusCode Status, string? Version, float[]? Scores)>();
        using var stop = new CancellationTokenSource();
        var clients = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            // Bounded: each client stops after the swap is seen, or after 2,000 requests.
            for (int n = 0; n < 2000 && !stop.IsCancellationRequested; n++)
            {
                var response = await serve.Client.PostAsJsonAsync("/score", Body(History, Candidates));
                float[]? scores = response.IsSuccessStatusCode
                    ? (await Json(response)).GetProperty("scores").EnumerateArray().Select(e => e.GetSingle()).ToArray()
                    : null;
                answers.Add((response.StatusCode, response.Headers.TryGetValues("X-Model-Version", out var v) ? v.Single() : null, scores));
            }
        })).ToList();

        await WaitForCount(answers, 50);
        serve.Save(seed: 2);
        var after = serve.Expected(4, History, Candidates);
        string second = ServedModel.Fingerprint(serve.CheckpointPath).Sha256[..12];
        await WaitForModel(serve.Client, m => m.GetProperty("version").GetString() == second);
        int atSwap = answers.Count;
        await WaitForCount(answers, atSwap + 50);
        await stop.CancelAsync();
        await Task.WhenAll(clients);

        answers.Should().OnlyContain(a => a.Status == HttpStatusCode.OK);
        answers.Select(a => a.Version).Distinct().Should().BeEquivalentTo(first, second);
        before.Zip(after).Should().OnlyContain(p => Math.Abs(p.First - p.Second) > 1e-4, "the two versions score differently, so a mixed answer would show");
        foreach (var (_, version, scores) in answers)
        {
            var expected = version == first ? before : after;
            for (int i = 0; i < expected.Length; i++)
            {
                scores![i].Should().BeApproximately(expected[i], 1e-6f, $"every score of an answer from {version} comes from that version");
            }
        }

        serve.Logs.Entries.Should().Contain(e => e.Level == LogLevel.Information && e.Message.Contains($"version {second}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_damaged_checkpoint_is_refused_and_logged_while_the_old_model_keeps_serving()
    {
        using var serve = new ServeFixture();
        string first = ServedModel.Fingerprint(serve.CheckpointPath).Sha256[..12];
        var expected = serve.Expected(4, History, Candidates);

        serve.SaveDamaged();
        string damaged = ServedModel.Fingerprint(serve.CheckpointPath).Sha256;
        var model = await WaitForModel(serve.Client, m => m.GetProperty("lastReload").ValueKind == JsonValueKind.Object);

        model.GetProperty("version").GetString().Should().Be(first);
        var reload = model.GetProperty("lastReload");
        reload.GetProperty("outcome").GetString().Should().Be("refused");
        reload.GetProperty("sha256").GetString().Should().Be(damaged);
        serve.Logs.Entries.Should().Contain(e => e.Level == LogLevel.Error && e.Message.Contains("Refused checkpoint", StringComparison.Ordinal) && e.Message.Contains($"Still serving {first}", StringComparison.Ordinal));

        var response = await serve.Client.PostAsJsonAsync("/score", Body(History, Candidates));
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Headers.GetValues("X-Model-Version").Should().Equal(first);
        var scores = (await Json(response)).GetProperty("scores").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        for (int i = 0; i < expected.Length; i++)
        {
            scores[i].Should().BeApproximately(expected[i], 1e-6f);
        }

        (await serve.Client.GetAsync(new Uri("/readyz", UriKind.Relative))).StatusCode.Should().Be(HttpStatusCode.OK);

        // A good file afterwards is taken.
        serve.Save(seed: 3);
        string third = ServedModel.Fingerprint(serve.CheckpointPath).Sha256[..12];
        await WaitForModel(serve.Client, m => m.GetProperty("version").GetString() == third);
    }

    [Fact]
    public async Task A_full_queue_sheds_the_request_with_503()
    {
        // A queue of 10 rows and a one-second wait for company: whichever request reaches the queue first waits there,
        // and a request arriving meanwhile does not fit. The client cannot tell which of two concurrent posts arrives
        // first, so every response counts: one is served, the others that met a full queue are shed.
        using var serve = new ServeFixture(("Serve:MaxCandidates", "8"), ("Serve:Batching:MaxQueuedRows", "10"),
            ("Serve:Batching:MaxWaitMilliseconds", "1000"), ("Serve:Batching:MaxBatchRows", "1000"));
        var firstTask = serve.Client.PostAsJsonAsync("/score", Body(History, Candidates));
        var responses = new List<HttpResponseMessage>();
        for (int i = 0; i < 100 && !firstTask.IsCompleted; i++)
        {
            var second = await serve.Client.PostAsJsonAsync("/score", Body(History, Candidates));
            responses.Add(second);
            if (second.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                break;
            }
        }

        responses.Add(await firstTask);
        responses.Select(r => r.StatusCode).Should().OnlyContain(c => c == HttpStatusCode.OK || c == HttpStatusCode.ServiceUnavailable);
        responses.Should().Contain(r => r.StatusCode == HttpStatusCode.OK, "the request that reached the empty queue is served");
        var shed = responses.FirstOrDefault(r => r.StatusCode == HttpStatusCode.ServiceUnavailable);
        shed.Should().NotBeNull("a request arriving while the queue is full is shed");
        shed!.Headers.RetryAfter.Should().NotBeNull();
        (await Json(shed)).GetProperty("detail").GetString().Should().Contain("queue is full");
    }

    [Fact]
    public async Task Request_latency_model_calls_batch_sizes_and_unknown_ids_are_published_as_metrics()
    {
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<string, double>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name is ServeMetrics.MeterName or Dien.Inference.BatchingScorer.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => seen.AddOrUpdate(instrument.Name, value, (_, sum) => sum + value));
        listener.SetMeasurementEventCallback<int>((instrument, value, _, _) => seen.AddOrUpdate(instrument.Name, value, (_, sum) => sum + value));
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => seen.AddOrUpdate(instrument.Name, value, (_, sum) => sum + value));
        listener.Start();
        using var serve = new ServeFixture();

        var response = await serve.Client.PostAsJsonAsync("/rank", Body(History, Candidates, user: "nobody"));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        // The request's duration is recorded when its pipeline ends, which may be just after the client has the answer.
        for (int i = 0; i < 200 && !seen.ContainsKey("dien.serve.request.duration"); i++)
        {
            await Task.Delay(50);
        }

        seen.Should().ContainKey("dien.serve.request.duration");
        seen.Should().ContainKey("dien.scorer.model_call.duration");
        seen.Should().ContainKey("dien.scorer.queue.duration");
        seen["dien.scorer.batch.rows"].Should().Be(Candidates.Length);
        seen["dien.scorer.batch.requests"].Should().Be(1);
        seen["dien.serve.request.candidates"].Should().Be(Candidates.Length);
        seen["dien.serve.unknown_ids"].Should().Be(1, "the user is unknown");
        seen["dien.serve.reloads"].Should().Be(1, "the first load counts as loaded");
    }

    private static async Task WaitForCount<T>(System.Collections.Concurrent.ConcurrentBag<T> bag, int count)
    {
        for (int i = 0; i < 1200 && bag.Count < count; i++)
        {
            await Task.Delay(50);
        }
    }
}
