namespace Dien.Data;

/// <summary>
/// A text file's lines as characters in one reused buffer instead of a string per line: the readers of the authors'
/// format, the converters and the CSV event source make a string only where they keep one (a new vocabulary entry, a
/// bad line's message). Lines end where
/// <see cref="TextReader.ReadLine"/> ends them ('\n', '\r' or "\r\n"), so line numbers are the same; the encoding is
/// <see cref="StreamReader"/>'s (UTF-8, or what a byte order mark says).
/// </summary>
internal sealed class LineReader : IDisposable
{
    private readonly StreamReader _reader;
    private char[] _buffer = new char[1 << 16];
    private int _start, _end; // the characters not yet returned: _buffer[_start .. _end)
    private bool _ended; // the file has no more characters
    private bool _afterCarriageReturn; // the last line ended with '\r': a '\n' right after it belongs to that ending

    /// <summary>Opens <paramref name="path"/>.</summary>
    public LineReader(string path) => _reader = new StreamReader(path);

    /// <summary>
    /// The next line without its ending; false after the last. The characters stay valid until the next call.
    /// </summary>
    public bool TryReadLine(out ReadOnlySpan<char> line)
    {
        while (true)
        {
            if (_afterCarriageReturn && _start < _end)
            {
                _afterCarriageReturn = false;
                if (_buffer[_start] == '\n')
                {
                    _start++;
                }
            }

            var pending = _buffer.AsSpan(_start, _end - _start);
            int at = pending.IndexOfAny('\r', '\n');
            if (at >= 0)
            {
                line = pending[..at];
                _start += at + 1;
                _afterCarriageReturn = pending[at] == '\r';
                return true;
            }

            if (_ended)
            {
                _afterCarriageReturn = false;
                line = pending;
                _start = _end;
                return !pending.IsEmpty;
            }

            Fill();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _reader.Dispose();

    /// <summary>Moves the pending characters to the buffer's start (doubling it when one line fills it) and reads more.</summary>
    private void Fill()
    {
        int pending = _end - _start;
        if (pending == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }
        else if (_start > 0)
        {
            Array.Copy(_buffer, _start, _buffer, 0, pending);
        }

        _start = 0;
        _end = pending;
        int read = _reader.Read(_buffer, _end, _buffer.Length - _end);
        _end += read;
        _ended = read == 0;
    }
}
