using Microsoft.Extensions.Logging;

namespace Dien.Tests;

/// <summary>An <see cref="IProgress{T}"/> that reports on the calling thread, as the tests need (Progress posts to a context).</summary>
internal sealed class CallbackProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}

/// <summary>An <see cref="ILogger"/> that keeps every formatted message.</summary>
internal sealed class MessageLogger : ILogger
{
    public List<string> Messages { get; } = [];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        => Messages.Add(formatter(state, exception));
}
