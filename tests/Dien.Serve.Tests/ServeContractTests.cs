using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Dien.Checkpoints;
using Dien.Inference;
using FluentAssertions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Dien.Serve.Tests;

/// <summary>
/// What the service takes from the checkpoint's contract (maps, item categories, history cut, one read per file), its
/// limits (body size, settings) and its shutdown with requests in flight.
/// </summary>
[Collection("Sequential")]
public sealed partial class ServeContractTests
{
    private static object Body(IEnumerable<long> history, IEnumerable<long> candidates, string user = "user-4") => new
    {
        user,
        history = history.Select(i => new { item = $"item-{i}" }),
        candidates = candidates.Select(i => new { item = $"item-{i}" }),
    };

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    /// <summary>A valid request of about <paramref name="bytes"/> bytes: one long user id.</summary>
    private static StringContent BodyOfSize(int bytes)
    {
        string prefix = "{\"user\": \"", suffix = "\", \"history\": [{\"item\": \"item-3\"}], \"candidates\": [{\"item\": \"item-5\"}]}";
        return new StringContent(prefix + new string('u', Math.Max(1, bytes - prefix.Length - suffix.Length)) + suffix, Encoding.UTF8, "application/json");
    }

    [Fact]
    public async Task A_body_over_the_configured_limit_gets_413_and_one_under_it_is_served()
    {
        using (var serve = new ServeFixture())
        {
            // appsettings.json: 1 MiB.
            var large = await serve.Client.PostAsync("/score", BodyOfSize(1_500_000));
            large.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
            (await Json(large)).GetProperty("detail").GetString().Should().Contain("1,048,576 bytes").And.Contain("Kestrel:Limits:MaxRequestBodySize");
            (await serve.Client.PostAsync("/score", BodyOfSize(900_000))).StatusCode.Should().Be(HttpStatusCode.OK);
        }

        using (var serve = new ServeFixture(("Kestrel:Limits:MaxRequestBodySize", "2000")))
        {
            (await serve.Client.PostAsync("/score", BodyOfSize(1900))).StatusCode.Should().Be(HttpStatusCode.OK);
            (await serve.Client.PostAsync("/rank", BodyOfSize(2100))).StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
            var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(await BodyOfSize(3000).ReadAsStringAsync())));
            chunked.Headers.ContentType = new("application/json");
            (await serve.Client.PostAsync("/score", chunked)).StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge, "a body without a length is counted as it is read");
        }
    }

    [Fact]
    public async Task An_invalid_setting_ends_the_service_with_one_line_naming_it_and_exit_code_2()
    {
        string dll = typeof(ServeApp).Assembly.Location;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string argument in new[] { dll, "--Serve:MaxCandidates", "0", "--Serve:Checkpoint", "/nonexistent/model.dien", "--urls", "http://127.0.0.1:0" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var errorTask = process.StandardError.ReadToEndAsync();
        var outputTask = process.StandardOutput.ReadToEndAsync();
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2)); // a bound, not a timing: it stops at once
        await process.WaitForExitAsync(bound.Token);
        string error = await errorTask, output = await outputTask;
        process.ExitCode.Should().Be(2, $"stderr: {error}");
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Should().ContainSingle().Which.Should().Contain("Serve:MaxCandidates = 0").And.Contain("must be at least 1");
        output.Should().NotContain("Exception");
    }

    [Fact]
    public async Task An_unknown_item_without_a_category_gets_the_unknown_category_even_from_a_version_1_checkpoint()
    {
        // Written by the previous release's Python writer, with item_category["0"] = 3 as version-1 training stored it.
        string golden = ServeFixture.Golden("python-v1-DienModel.dien");
        using var serve = new ServeFixture(f => File.Copy(golden, f.CheckpointPath));
        var response = await serve.Client.PostAsJsonAsync("/score", new
        {
            user = "user-1",
            history = new[] { new { item = "item-1" }, new { item = "item-2" } },
            candidates = new[] { new { item = "no-such-item" }, new { item = "item-5" } },
        });

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var json = await Json(response);
        var unknown = json.GetProperty("unknown");
        unknown.GetProperty("items").GetInt32().Should().Be(1);
        unknown.GetProperty("categories").GetInt32().Should().Be(1, "the unknown item has no stored category");
        using var predictor = CtrPredictor.Load(serve.CheckpointPath);
        var data = predictor.Contents!.Data;
        var expected = predictor.ScoreCandidates(1, [1, 2], [data.CategoryOf(1), data.CategoryOf(2)], [0, 5], [0, data.CategoryOf(5)]);
        var scores = json.GetProperty("scores").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        scores[0].Should().BeApproximately(expected[0], 1e-6f);
        scores[1].Should().BeApproximately(expected[1], 1e-6f);
        predictor.ScoreCandidates(1, [1, 2], [data.CategoryOf(1), data.CategoryOf(2)], [0], [3])[0].Should().NotBeApproximately(expected[0], 1e-6f, "category 3 would score otherwise");
    }

    [Fact]
    public async Task Served_histories_are_cut_to_the_training_cut_the_checkpoint_records()
    {
        using var serve = new ServeFixture(f => f.Save(seed: 1, maxHistory: 3));
        long[] history = [3, 17, 17, 42, 8, 11];
        long[] candidates = [5, 11, 23];

        var response = await serve.Client.PostAsJsonAsync("/score", Body(history, candidates));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var scores = (await Json(response)).GetProperty("scores").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        using var model = Checkpoint.LoadModel(serve.CheckpointPath);
        using var uncut = new CtrPredictor(model);
        var recent = uncut.ScoreCandidates(4, history[^3..], history[^3..].Select(i => (i % 6) + 1).ToArray(), candidates, candidates.Select(i => (i % 6) + 1).ToArray());
        var whole = uncut.ScoreCandidates(4, history, history.Select(i => (i % 6) + 1).ToArray(), candidates, candidates.Select(i => (i % 6) + 1).ToArray());
        for (int i = 0; i < scores.Length; i++)
        {
            scores[i].Should().BeApproximately(recent[i], 1e-6f, "only the three most recent behaviours are scored");
        }

        whole.Should().NotEqual(recent);
        var description = await Json(await serve.Client.GetAsync(new Uri("/model", UriKind.Relative)));
        description.GetProperty("historyCut").GetInt32().Should().Be(3);
        description.GetProperty("formatVersion").GetInt32().Should().Be(Checkpoint.FormatVersion);
    }

    [Fact]
    public void Loading_a_checkpoint_for_serving_opens_the_file_once()
    {
        using var serve = new ServeFixture();
        using var opens = new OpenCounter(serve.CheckpointPath);
        var model = ServedModel.Load(serve.CheckpointPath);
        try
        {
            opens.Count().Should().Be(1, "the kind, the maps, the cut, the weights and the version all come from one read");
            model.Sha256.Should().Be(ServedModel.Fingerprint(serve.CheckpointPath).Sha256);
        }
        finally
        {
            model.Retire();
        }
    }

    [Fact]
    public async Task Stopping_the_host_answers_every_request_in_flight()
    {
        using var files = new ServeFixture();
        // A real server; requests wait up to a second in the scorer's queue for company, so they are in flight when the stop comes.
        var app = ServeApp.Build(
            ["--Serve:Checkpoint", files.CheckpointPath, "--urls", "http://127.0.0.1:0", "--Serve:Batching:MaxWaitMilliseconds", "1000",
             "--Serve:Batching:MaxBatchRows", "100000", "--Serve:ReloadPollSeconds", "0"]);
        await app.StartAsync();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
            var host = app.Services.GetRequiredService<ModelHost>();
            // A first round opens the six connections and compiles the path, so that the measured round reaches the queue together.
            (await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => client.PostAsJsonAsync("/score", Body([3], [5])))))
                .Should().OnlyContain(r => r.StatusCode == HttpStatusCode.OK);
            var requests = Enumerable.Range(0, 6).Select(_ => client.PostAsJsonAsync("/score", Body([3, 17, 42], [5, 11, 23, 37]))).ToList();
            for (int i = 0; i < 600 && host.Scorer.QueuedRows < 24; i++)
            {
                await Task.Delay(10);
            }

            host.Scorer.QueuedRows.Should().Be(24, "all six requests are queued, not yet answered");
            var stopping = app.StopAsync();
            var responses = await Task.WhenAll(requests);
            await stopping;

            responses.Select(r => r.StatusCode).Should().OnlyContain(c => c == HttpStatusCode.OK);
            foreach (var response in responses)
            {
                (await Json(response)).GetProperty("scores").GetArrayLength().Should().Be(4);
            }

            // Kestrel applies the same body limit on the socket.
            var late = ServeApp.Build(["--Serve:Checkpoint", files.CheckpointPath, "--urls", "http://127.0.0.1:0", "--Serve:ReloadPollSeconds", "0"]);
            await late.StartAsync();
            try
            {
                using var other = new HttpClient { BaseAddress = new Uri(late.Urls.First()) };
                (await other.PostAsync("/score", BodyOfSize(1_500_000))).StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
            }
            finally
            {
                await late.StopAsync();
                await late.DisposeAsync();
            }
        }
        finally
        {
            await app.DisposeAsync();
        }
    }

    /// <summary>Counts the opens of one file through inotify (Linux), from its creation to <see cref="Count"/>.</summary>
    private sealed partial class OpenCounter : IDisposable
    {
        private const int InOpen = 0x20;
        private const int NonBlocking = 0x800;
        private readonly int _fd;

        public OpenCounter(string path)
        {
            OperatingSystem.IsLinux().Should().BeTrue("the opens are counted with inotify; the service's tests run on Linux");
            _fd = InotifyInit1(NonBlocking);
            _fd.Should().BeGreaterThan(0);
            InotifyAddWatch(_fd, path, InOpen).Should().BeGreaterThan(0);
        }

        public int Count()
        {
            var buffer = new byte[4096];
            int count = 0;
            while (true)
            {
                long read = Read(_fd, buffer, buffer.Length);
                if (read <= 0)
                {
                    return count;
                }

                // struct inotify_event { int wd; uint32_t mask, cookie, len; char name[len]; }
                for (int offset = 0; offset < read; offset += 16 + BitConverter.ToInt32(buffer, offset + 12))
                {
                    count += (BitConverter.ToUInt32(buffer, offset + 4) & InOpen) != 0 ? 1 : 0;
                }
            }
        }

        public void Dispose() => _ = Close(_fd);

        [LibraryImport("libc", EntryPoint = "inotify_init1")]
        private static partial int InotifyInit1(int flags);

        [LibraryImport("libc", EntryPoint = "inotify_add_watch", StringMarshalling = StringMarshalling.Utf8)]
        private static partial int InotifyAddWatch(int fd, string path, int mask);

        [LibraryImport("libc", EntryPoint = "read")]
        private static partial long Read(int fd, byte[] buffer, long count);

        [LibraryImport("libc", EntryPoint = "close")]
        private static partial int Close(int fd);
    }
}
