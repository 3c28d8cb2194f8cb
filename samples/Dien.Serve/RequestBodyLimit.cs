namespace Dien.Serve;

/// <summary>
/// The most bytes a request body may have: <c>Kestrel:Limits:MaxRequestBodySize</c> (1 MiB in appsettings.json).
/// Kestrel enforces it on the socket; the endpoints enforce it too, so that it holds behind any server (the in-memory
/// test server included) and a body over it always gets 413.
/// </summary>
/// <param name="Bytes">The limit.</param>
public sealed record RequestBodyLimit(long Bytes)
{
    /// <summary>The configuration key.</summary>
    public const string Key = "Kestrel:Limits:MaxRequestBodySize";

    /// <summary>The limit when the key is not set: 1 MiB.</summary>
    public const long Default = 1 << 20;

    /// <summary>The body, failing with <see cref="RequestBodyTooLargeException"/> once more than <see cref="Bytes"/> are read.</summary>
    /// <param name="body">The request body.</param>
    /// <returns>A read-only stream over it.</returns>
    public Stream Wrap(Stream body) => new Counted(body, Bytes);

    private sealed class Counted(Stream inner, long limit) : Stream
    {
        private long _read;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _read; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Count(int read)
        {
            _read += read;
            return _read > limit ? throw new RequestBodyTooLargeException(limit) : read;
        }
    }
}

/// <summary>A request body is over <see cref="RequestBodyLimit"/>.</summary>
/// <param name="limit">The limit in bytes.</param>
public sealed class RequestBodyTooLargeException(long limit) : IOException($"The request body is over {limit:N0} bytes ({RequestBodyLimit.Key}).")
{
    /// <summary>The limit in bytes.</summary>
    public long Limit { get; } = limit;
}
