using System.Buffers.Binary;
using System.Text;

namespace Dien.Data.Formats;

/// <summary>
/// Reads and writes Python pickles of a flat <c>dict</c> of <c>str -> int</c> (the authors'
/// <c>uid_voc.pkl</c>, <c>mid_voc.pkl</c>, <c>cat_voc.pkl</c>).
/// </summary>
/// <remarks>
/// The reader understands the opcodes Python's <c>pickle.dump</c> emits for such a dict in protocols
/// 0 to 5 (strings, ints, memo, marks, frames); any other opcode is reported as unsupported. The writer
/// emits protocol 2 byte for byte as CPython does (items batched by 1000 per MARK ... SETITEMS).
/// </remarks>
internal static class PickleVocabularyFormat
{
    /// <summary>Reads a pickled <c>str -> int</c> dict.</summary>
    /// <param name="path">The .pkl file.</param>
    /// <returns>The dict, as pickled (ids are not checked here; <see cref="VocabularyFiles.Read"/> checks them).</returns>
    /// <exception cref="VocabularyFormatException">The file is not such a pickle (truncated, damaged, another object, a key
    /// repeated); the message names the file, the byte offset and the problem.</exception>
    /// <exception cref="IOException">The file cannot be opened.</exception>
    public static Dictionary<string, int> Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        return Read(bytes, path);
    }

    /// <summary>Reads a pickled <c>str -> int</c> dict from bytes.</summary>
    /// <param name="bytes">The pickle.</param>
    /// <param name="source">Named in error messages.</param>
    /// <returns>The dict, as pickled.</returns>
    /// <exception cref="VocabularyFormatException">The bytes are not such a pickle; the message names the source, the byte offset and the problem.</exception>
    public static Dictionary<string, int> Read(ReadOnlySpan<byte> bytes, string source = "pickle")
    {
        int at = 0;
        try
        {
            return Parse(bytes, source, ref at);
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentOutOfRangeException or InvalidOperationException
            or (FormatException and not VocabularyFormatException) or OverflowException or KeyNotFoundException or ArgumentException)
        {
            // A length or operand running past the end, a MARK or memo slot that is not there, a number or
            // UTF-8 string that does not decode: the bytes are truncated or damaged.
            string what = at < bytes.Length ? $"opcode 0x{bytes[at]:x2}" : "the end";
            throw new VocabularyFormatException(source, $"byte {at}: {what} is truncated or malformed (the pickle is cut short or damaged: {e.GetType().Name})", e);
        }
    }

    private static Dictionary<string, int> Parse(ReadOnlySpan<byte> bytes, string source, ref int at)
    {
        var stack = new List<object?>();
        var marks = new Stack<int>();
        var memo = new Dictionary<long, object?>();
        int pos = 0;
        Dictionary<string, int>? result = null;
        while (true)
        {
            if (pos >= bytes.Length)
            {
                throw Bad(source, pos, "ends before the STOP opcode");
            }

            at = pos;
            byte op = bytes[pos++];
            switch (op)
            {
                case 0x80: pos++; break; // PROTO n
                case 0x95: pos += 8; break; // FRAME length
                case 0x7d: stack.Add(new Dictionary<string, int>(StringComparer.Ordinal)); break; // EMPTY_DICT '}'
                case 0x28: marks.Push(stack.Count); break; // MARK '('
                case 0x64: // DICT 'd' (protocol 0: MARK k v ... DICT)
                    {
                        int start = marks.Pop();
                        var dict = new Dictionary<string, int>(StringComparer.Ordinal);
                        AddPairs(dict, stack, start, source, at);
                        stack.Add(dict);
                        break;
                    }

                case 0x58: // BINUNICODE 'X'
                    {
                        int n = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes[pos..]);
                        pos += 4;
                        stack.Add(StrictUtf8.GetString(bytes.Slice(pos, n)));
                        pos += n;
                        break;
                    }

                case 0x8c: // SHORT_BINUNICODE
                    {
                        int n = bytes[pos++];
                        stack.Add(StrictUtf8.GetString(bytes.Slice(pos, n)));
                        pos += n;
                        break;
                    }

                case 0x8d: // BINUNICODE8
                    {
                        int n = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(bytes[pos..]));
                        pos += 8;
                        stack.Add(StrictUtf8.GetString(bytes.Slice(pos, n)));
                        pos += n;
                        break;
                    }

                case 0x56: // UNICODE 'V' (protocol 0, raw-unicode-escape to newline)
                    stack.Add(DecodeRawUnicodeEscape(ReadLine(bytes, ref pos)));
                    break;
                case 0x49: // INT 'I'
                case 0x4c: // LONG 'L'
                    stack.Add(long.Parse(ReadLine(bytes, ref pos).TrimEnd('L'), System.Globalization.CultureInfo.InvariantCulture));
                    break;
                case 0x4b: stack.Add((long)bytes[pos++]); break; // BININT1 'K'
                case 0x4d: stack.Add((long)BinaryPrimitives.ReadUInt16LittleEndian(bytes[pos..])); pos += 2; break; // BININT2 'M'
                case 0x4a: stack.Add((long)BinaryPrimitives.ReadInt32LittleEndian(bytes[pos..])); pos += 4; break; // BININT 'J'
                case 0x8a: // LONG1
                    {
                        int n = bytes[pos++];
                        if (n > 8)
                        {
                            throw Bad(source, at, $"an integer of {n} bytes is out of range");
                        }

                        long value = 0;
                        for (int i = n - 1; i >= 0; i--)
                        {
                            value = (value << 8) | bytes[pos + i];
                        }

                        if (n > 0 && n < 8 && (bytes[pos + n - 1] & 0x80) != 0)
                        {
                            value -= 1L << (8 * n);
                        }

                        pos += n;
                        stack.Add(value);
                        break;
                    }

                case 0x71: memo[bytes[pos++]] = stack[^1]; break; // BINPUT 'q'
                case 0x72: memo[BinaryPrimitives.ReadUInt32LittleEndian(bytes[pos..])] = stack[^1]; pos += 4; break; // LONG_BINPUT 'r'
                case 0x94: memo[memo.Count] = stack[^1]; break; // MEMOIZE
                case 0x70: memo[long.Parse(ReadLine(bytes, ref pos), System.Globalization.CultureInfo.InvariantCulture)] = stack[^1]; break; // PUT 'p'
                case 0x68: stack.Add(memo[bytes[pos++]]); break; // BINGET 'h'
                case 0x6a: stack.Add(memo[BinaryPrimitives.ReadUInt32LittleEndian(bytes[pos..])]); pos += 4; break; // LONG_BINGET 'j'
                case 0x73: // SETITEM 's'
                    {
                        int start = stack.Count - 2;
                        var dict = stack[start - 1] as Dictionary<string, int> ?? throw Bad(source, at, "SETITEM without a dict");
                        AddPairs(dict, stack, start, source, at);
                        break;
                    }

                case 0x75: // SETITEMS 'u'
                    {
                        int start = marks.Pop();
                        var dict = stack[start - 1] as Dictionary<string, int> ?? throw Bad(source, at, "SETITEMS without a dict");
                        AddPairs(dict, stack, start, source, at);
                        break;
                    }

                case 0x2e: // STOP '.'
                    result = stack.Count == 1 ? stack[0] as Dictionary<string, int> : null;
                    return result ?? throw Bad(source, at, "the pickled object is not a dict of str -> int");
                default:
                    throw Bad(source, at, $"opcode 0x{op:x2} is not supported (only a dict of str -> int is expected)");
            }
        }
    }

    /// <summary>Writes <paramref name="entries"/> as a protocol-2 pickle, as Python's <c>pickle.dump(d, f, protocol=2)</c> would.</summary>
    /// <param name="path">The .pkl file to create.</param>
    /// <param name="entries">The dict, in insertion order.</param>
    public static void Write(string path, IEnumerable<KeyValuePair<string, int>> entries) => File.WriteAllBytes(path, Write(entries));

    /// <summary>The protocol-2 pickle bytes of <paramref name="entries"/>.</summary>
    /// <param name="entries">The dict, in insertion order.</param>
    public static byte[] Write(IEnumerable<KeyValuePair<string, int>> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var items = entries.ToList();
        using var stream = new MemoryStream();
        using var w = new BinaryWriter(stream);
        w.Write((byte)0x80);
        w.Write((byte)2);
        w.Write((byte)0x7d);
        uint memo = 0;
        WritePut(w, memo++);
        for (int batch = 0; batch < items.Count; batch += 1000)
        {
            int n = Math.Min(1000, items.Count - batch);
            if (n > 1)
            {
                w.Write((byte)0x28);
            }

            for (int i = batch; i < batch + n; i++)
            {
                byte[] key = Encoding.UTF8.GetBytes(items[i].Key);
                w.Write((byte)0x58);
                w.Write((uint)key.Length);
                w.Write(key);
                WritePut(w, memo++);
                WriteInt(w, items[i].Value);
            }

            w.Write(n > 1 ? (byte)0x75 : (byte)0x73);
        }

        w.Write((byte)0x2e);
        w.Flush();
        return stream.ToArray();
    }

    private static void WritePut(BinaryWriter w, uint index)
    {
        if (index < 256)
        {
            w.Write((byte)0x71);
            w.Write((byte)index);
        }
        else
        {
            w.Write((byte)0x72);
            w.Write(index);
        }
    }

    private static void WriteInt(BinaryWriter w, int value)
    {
        if (value >= 0 && value < 256)
        {
            w.Write((byte)0x4b);
            w.Write((byte)value);
        }
        else if (value >= 0 && value < 65536)
        {
            w.Write((byte)0x4d);
            w.Write((ushort)value);
        }
        else
        {
            w.Write((byte)0x4a);
            w.Write(value);
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static void AddPairs(Dictionary<string, int> dict, List<object?> stack, int start, string source, int at)
    {
        if ((stack.Count - start) % 2 != 0)
        {
            throw Bad(source, at, "an odd number of items between MARK and SETITEMS");
        }

        for (int i = start; i < stack.Count; i += 2)
        {
            if (stack[i] is not string key || stack[i + 1] is not long value || value < int.MinValue || value > int.MaxValue)
            {
                throw Bad(source, at, $"entry {(i - start) / 2} is not a str -> int pair ({stack[i]?.GetType().Name ?? "None"} -> {stack[i + 1]?.GetType().Name ?? "None"})");
            }

            if (!dict.TryAdd(key, (int)value))
            {
                throw Bad(source, at, $"key {Quote.Of(key)} is set twice");
            }
        }

        stack.RemoveRange(start, stack.Count - start);
    }

    private static string ReadLine(ReadOnlySpan<byte> bytes, ref int pos)
    {
        int end = bytes[pos..].IndexOf((byte)'\n');
        string line = Encoding.Latin1.GetString(bytes.Slice(pos, end));
        pos += end + 1;
        return line;
    }

    private static string DecodeRawUnicodeEscape(string latin1)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < latin1.Length; i++)
        {
            if (latin1[i] == '\\' && i + 5 < latin1.Length && latin1[i + 1] == 'u')
            {
                sb.Append((char)Convert.ToInt32(latin1.Substring(i + 2, 4), 16));
                i += 5;
            }
            else
            {
                sb.Append(latin1[i]);
            }
        }

        return sb.ToString();
    }

    private static VocabularyFormatException Bad(string source, int offset, string problem) =>
        new(source, $"byte {offset}: {problem}.");
}
