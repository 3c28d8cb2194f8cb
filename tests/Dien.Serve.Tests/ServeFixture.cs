using System.Collections.Concurrent;
using Dien.Checkpoints;
using Dien.Inference;
using Dien.Model;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TorchSharp;

namespace Dien.Serve.Tests;

/// <summary>A small DIEN checkpoint in a temporary folder, and the service on it in memory.</summary>
internal sealed class ServeFixture : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"dien-serve-{Guid.NewGuid():N}");

    public ServeFixture(params (string Key, string Value)[] settings)
        : this(fixture => fixture.Save(seed: 1), settings)
    {
    }

    /// <summary>The service on the checkpoint <paramref name="write"/> puts at <see cref="CheckpointPath"/>.</summary>
    public ServeFixture(Action<ServeFixture> write, params (string Key, string Value)[] settings)
    {
        Directory.CreateDirectory(_folder);
        CheckpointPath = Path.Combine(_folder, "model.dien");
        write(this);
        Factory = new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("Serve:Checkpoint", CheckpointPath);
            builder.UseSetting("Serve:ReloadPollSeconds", "0.2");
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }

            builder.ConfigureServices(services => services.AddSingleton<ILoggerProvider>(Logs));
        });
        Client = Factory.CreateClient();
    }

    public string CheckpointPath { get; }

    public WebApplicationFactory<Program> Factory { get; }

    public HttpClient Client { get; }

    public LogCollector Logs { get; } = new();

    /// <summary>The data as a converted data set stores them: raw ids (strings) to indices, each item's category, the history cut.</summary>
    public static CheckpointData Data(int? maxHistory = null) => new()
    {
        Items = Enumerable.Range(1, 59).ToDictionary(i => $"item-{i}", i => (long)i),
        Categories = Enumerable.Range(1, 6).ToDictionary(c => $"cat-{c}", c => (long)c),
        Users = Enumerable.Range(1, 11).ToDictionary(u => $"user-{u}", u => (long)u),
        ItemCategories = Enumerable.Range(1, 59).ToDictionary(i => (long)i, i => (long)((i % 6) + 1)),
        MaxHistoryLength = maxHistory,
    };

    /// <summary>The model's options.</summary>
    public static CtrModelOptions Options() => new() { ItemVocabularySize = 60, CategoryVocabularySize = 7, UserVocabularySize = 12, UseUserField = true, HeadHiddenSizes = [24, 12] };

    /// <summary>Writes a model with weights from <paramref name="seed"/> over the checkpoint (atomically, as the trainer does).</summary>
    public void Save(int seed, int? maxHistory = null)
    {
        torch.manual_seed(seed);
        using var model = new DienModel(Options());
        Checkpoint.Save(CheckpointPath, model, Data(maxHistory));
    }

    /// <summary>Replaces the checkpoint with bytes that are not a checkpoint, atomically.</summary>
    public void SaveDamaged()
    {
        var bytes = File.ReadAllBytes(CheckpointPath);
        // A flipped byte in the middle of the zip: the CRC or the manifest's hash catches it.
        for (int i = bytes.Length / 2; i < (bytes.Length / 2) + 64; i++)
        {
            bytes[i] ^= 0x5A;
        }

        string temporary = Path.Combine(_folder, "incoming.tmp");
        File.WriteAllBytes(temporary, bytes);
        File.Move(temporary, CheckpointPath, overwrite: true);
    }

    /// <summary>The repository's golden checkpoint of that name (tests/Dien.Tests/Checkpoints/Golden).</summary>
    public static string Golden(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Dien.sln")))
            {
                return Path.Combine(dir.FullName, "tests", "Dien.Tests", "Checkpoints", "Golden", name);
            }
        }

        throw new InvalidOperationException($"No Dien.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>The scores the predictor gives alone (unbatched) for the same raw request.</summary>
    public float[] Expected(long user, long[] history, long[] candidates)
    {
        using var predictor = CtrPredictor.Load(CheckpointPath);
        return predictor.ScoreCandidates(user, history, history.Select(i => (i % 6) + 1).ToArray(), candidates, candidates.Select(i => (i % 6) + 1).ToArray());
    }

    public void Dispose()
    {
        Client.Dispose();
        Factory.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}

/// <summary>Keeps every log line, for the tests that check what was logged.</summary>
internal sealed class LogCollector : ILoggerProvider
{
    public ConcurrentQueue<(LogLevel Level, string Category, string Message)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCollector owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Entries.Enqueue((logLevel, category, formatter(state, exception)));
    }
}
