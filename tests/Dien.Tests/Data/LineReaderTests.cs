using System.Text;
using Dien.Data;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Data;

/// <summary>
/// <see cref="LineReader"/> gives the lines <see cref="TextReader.ReadLine"/> gives, so the readers built on it number
/// their lines as before: every ending ('\n', '\r', "\r\n"), an ending split across two buffer fills, lines longer
/// than the buffer, a last line without an ending, a byte order mark.
/// </summary>
public sealed class LineReaderTests
{
    private static List<string> WithLineReader(string path)
    {
        var lines = new List<string>();
        using var reader = new LineReader(path);
        while (reader.TryReadLine(out var line))
        {
            lines.Add(line.ToString());
        }

        return lines;
    }

    private static List<string> WithReadLine(string path)
    {
        var lines = new List<string>();
        using var reader = new StreamReader(path);
        while (reader.ReadLine() is { } line)
        {
            lines.Add(line);
        }

        return lines;
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n")]
    [InlineData("a")]
    [InlineData("a\n")]
    [InlineData("a\r")]
    [InlineData("a\r\n")]
    [InlineData("a\r\r\nb")]
    [InlineData("\r\n\r\n\n\r")]
    [InlineData("1\tu\tm\tc\tm1\u0002m2\tc1\u0002c2\r\n0\tu\tm\tc\t\t\n")]
    public void Short_files_read_as_ReadLine_reads_them(string content)
    {
        using var folder = new TempFolder();
        string path = folder.File("f", content);
        WithLineReader(path).Should().Equal(WithReadLine(path));
    }

    [Fact]
    public void Endings_at_every_place_around_the_buffers_edge_and_long_lines_read_as_ReadLine_reads_them()
    {
        using var folder = new TempFolder();
        var random = new Random(11);
        string[] endings = ["\n", "\r", "\r\n", "\r\r", "\n\n"];
        for (int round = 0; round < 20; round++)
        {
            var text = new StringBuilder();
            // Around 65,536 characters (the first fill) and beyond; some lines longer than a whole buffer.
            text.Append('x', 65_536 - 3 + (round % 6));
            text.Append(endings[round % endings.Length]);
            while (text.Length < 400_000)
            {
                int length = random.Next(10) == 0 ? random.Next(70_000, 150_000) : random.Next(0, 200);
                text.Append((char)('a' + random.Next(26)), length);
                text.Append(endings[random.Next(endings.Length)]);
            }

            if (round % 2 == 1)
            {
                text.Append("last line without an ending");
            }

            string path = folder.File($"f{round}", text.ToString());
            var expected = WithReadLine(path);
            expected.Should().HaveCountGreaterThan(20);
            WithLineReader(path).Should().Equal(expected, $"round {round}");
        }
    }

    [Fact]
    public void A_byte_order_mark_is_not_read_as_characters()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "bom");
        File.WriteAllText(path, "a\tb\nc", new UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
        WithLineReader(path).Should().Equal("a\tb", "c");
    }
}
