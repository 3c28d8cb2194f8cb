using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using Dien.Inference;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Dien.Serve;

/// <summary>
/// The load benchmark (not a test): starts the service on 127.0.0.1 (a free port) once with batching on and once off,
/// sends a fixed number of POST /rank requests from N concurrent clients, and prints throughput and latency
/// percentiles. Only the loopback address is ever contacted, and the run stops by itself.
/// </summary>
internal static class LoadBenchmark
{
    private const string Usage = """
        load [--checkpoint out/best.dien] [--clients 32] [--requests 2000] [--candidates 100] [--history 25] [--modes on,off] [--threads 0]
             [--max-batch-rows 256] [--max-wait-ms 1]
          Sends --requests POST /rank requests (after a warm-up) from --clients concurrent clients to the service on
          127.0.0.1, each one user with --history behaviours and --candidates candidates, for each batching mode.
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["--checkpoint"] = "out/best.dien", ["--clients"] = "32", ["--requests"] = "2000", ["--candidates"] = "100",
            ["--history"] = "25", ["--modes"] = "on,off", ["--threads"] = "0", ["--max-batch-rows"] = "256", ["--max-wait-ms"] = "1",
        };
        for (int i = 0; i < args.Length; i++)
        {
            if (!settings.ContainsKey(args[i]) || i + 1 == args.Length)
            {
                Console.Error.WriteLine(args[i] is "--help" or "-h" ? Usage : $"{args[i]}: unknown option or missing value.\n{Usage}");
                return args[i] is "--help" or "-h" ? 0 : 2;
            }

            settings[args[i]] = args[++i];
        }

        string checkpoint = settings["--checkpoint"];
        if (!File.Exists(checkpoint))
        {
            Console.Error.WriteLine($"--checkpoint {checkpoint}: no such file (dotnet run -c Release --project samples/Dien.Train writes out/best.dien).");
            return 2;
        }

        int Int(string key, int min)
        {
            int value = int.Parse(settings[key], CultureInfo.InvariantCulture);
            return value >= min ? value : throw new ArgumentOutOfRangeException(key, value, $"{key} must be at least {min}.");
        }

        int clients = Int("--clients", 1), requests = Int("--requests", 1), candidates = Int("--candidates", 1), history = Int("--history", 1), threads = Int("--threads", 0);
        int maxBatchRows = Int("--max-batch-rows", 1);
        string maxWait = settings["--max-wait-ms"];
        var modes = settings["--modes"].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Console.WriteLine($"load: {requests} POST /rank requests per mode from {clients} clients, 1 user x {candidates} candidates, history {history}; " +
            $"batches of at most {maxBatchRows} rows after at most {maxWait} ms; {Environment.ProcessorCount} cores, checkpoint {checkpoint}");
        Console.WriteLine("| batching | requests/s | candidates/s | p50 ms | p99 ms | p99.9 ms | max ms | failed | requests per model call |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        var throughput = new Dictionary<string, double>();
        foreach (string mode in modes)
        {
            var result = await RunModeAsync(checkpoint, mode == "on", clients, requests, candidates, history, threads, maxBatchRows, maxWait);
            throughput[mode] = result.Throughput;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {mode} | {result.Throughput:F0} | {result.Throughput * candidates:F0} | {result.P50:F2} | {result.P99:F2} | {result.P999:F2} | {result.Max:F2} | {result.Failed} | {result.RequestsPerCall:F1} |"));
        }

        if (throughput.TryGetValue("on", out double on) && throughput.TryGetValue("off", out double off))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"batching on / off: {on / off:F2}x the throughput"));
        }

        return 0;
    }

    private sealed record ModeResult(double Throughput, double P50, double P99, double P999, double Max, int Failed, double RequestsPerCall);

    private static async Task<ModeResult> RunModeAsync(string checkpoint, bool batching, int clients, int requests, int candidates, int history, int threads, int maxBatchRows, string maxWait)
    {
        var app = ServeApp.Build([], builder =>
        {
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Serve:Checkpoint"] = Path.GetFullPath(checkpoint),
                ["Serve:Batching:Enabled"] = batching ? "true" : "false",
                ["Serve:Threads"] = threads.ToString(CultureInfo.InvariantCulture),
                ["Serve:ReloadPollSeconds"] = "0",
                ["Serve:Batching:MaxBatchRows"] = maxBatchRows.ToString(CultureInfo.InvariantCulture),
                ["Serve:Batching:MaxWaitMilliseconds"] = maxWait,
                ["Logging:LogLevel:Default"] = "Warning",
            });
        });
        await app.StartAsync();
        long calls = 0, gathered = 0;
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
            Interlocked.Increment(ref calls);
            Interlocked.Add(ref gathered, value);
        });
        try
        {
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
            {
                BaseAddress = new Uri(address),
            };
            using var model = JsonDocument.Parse(await http.GetStringAsync(new Uri("/model", UriKind.Relative)));
            long items = model.RootElement.GetProperty("vocabularies").GetProperty("items").GetInt64();
            long users = model.RootElement.GetProperty("vocabularies").GetProperty("users").GetInt64();
            var random = new Random(17);
            var bodies = Enumerable.Range(0, 64).Select(_ => JsonSerializer.SerializeToUtf8Bytes(new
            {
                user = random.NextInt64(1, users).ToString(CultureInfo.InvariantCulture),
                history = Enumerable.Range(0, history).Select(_ => new { item = random.NextInt64(1, items).ToString(CultureInfo.InvariantCulture) }),
                candidates = Enumerable.Range(0, candidates).Select(_ => new { item = random.NextInt64(1, items).ToString(CultureInfo.InvariantCulture) }),
            })).ToArray();

            await SendAsync(http, bodies, clients, Math.Max(clients * 10, requests / 10));
            listener.Start();
            var (latencies, failed, seconds) = await SendAsync(http, bodies, clients, requests);
            listener.Dispose();
            Array.Sort(latencies);
            double At(double q) => latencies[Math.Min(latencies.Length - 1, (int)Math.Ceiling(q * latencies.Length) - 1)];
            return new ModeResult(requests / seconds, At(0.50), At(0.99), At(0.999), latencies[^1], failed, calls == 0 ? 0 : (double)gathered / calls);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    /// <summary>Sends <paramref name="count"/> requests from <paramref name="clients"/> concurrent loops; latencies in ms.</summary>
    private static async Task<(double[] Latencies, int Failed, double Seconds)> SendAsync(HttpClient http, byte[][] bodies, int clients, int count)
    {
        var latencies = new double[count];
        int next = -1, failed = 0;
        var uri = new Uri("/rank", UriKind.Relative);
        var total = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                using var content = new ByteArrayContent(bodies[i % bodies.Length]);
                content.Headers.ContentType = new("application/json");
                long start = Stopwatch.GetTimestamp();
                using var response = await http.PostAsync(uri, content);
                await response.Content.ReadAsByteArrayAsync();
                latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                if (!response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        })));
        return (latencies, failed, total.Elapsed.TotalSeconds);
    }
}
