using System.Text;
using System.Text.Json;

namespace Dien.Data.Formats;

/// <summary>Where a vocabulary came from.</summary>
public enum VocabularySource
{
    /// <summary>Read from a Python pickle.</summary>
    Pickle,

    /// <summary>Read from a JSON object of string -> int.</summary>
    Json,

    /// <summary>Rebuilt from the data by descending frequency, ties by ordinal string order.</summary>
    Rebuilt,
}

/// <summary>Loads the authors' vocabulary files, pickle or JSON, and writes them.</summary>
internal static class VocabularyFiles
{
    /// <summary>
    /// Reads a vocabulary file, pickle or JSON, detected by content (a pickle starts with byte 0x80
    /// or '(' / '}', JSON with '{'), and checks that it is a usable id table.
    /// </summary>
    /// <remarks>
    /// Rejected, each with <see cref="VocabularyFormatException"/>: a truncated or damaged file; anything but a
    /// flat map of string -> integer; a key given twice; an id that is negative, not an integer of 32 bits, or
    /// larger than 16 x the number of entries + 1024 (an id is a row of an embedding table, so one absurd id would
    /// ask for billions of rows); two keys with one id. Neither format carries a checksum: damage that still leaves
    /// a valid table (one id digit changed into another unused id) cannot be seen.
    /// </remarks>
    /// <param name="path">The file, e.g. <c>mid_voc.pkl</c>.</param>
    /// <param name="source">Which format was read.</param>
    /// <returns>The vocabulary.</returns>
    /// <exception cref="VocabularyFormatException">The file is not a usable vocabulary; the message names the file and the problem.</exception>
    /// <exception cref="IOException">The file cannot be opened (for example <see cref="FileNotFoundException"/>).</exception>
    public static Vocabulary Read(string path, out VocabularySource source)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes = File.ReadAllBytes(path);
        int first = 0;
        if (bytes.AsSpan().StartsWith(Utf8Bom))
        {
            first = Utf8Bom.Length;
        }

        while (first < bytes.Length && (bytes[first] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
        {
            first++;
        }

        Dictionary<string, int> map;
        if (first < bytes.Length && bytes[first] == (byte)'{')
        {
            source = VocabularySource.Json;
            map = ReadJson(bytes.AsSpan(first), path);
        }
        else
        {
            source = VocabularySource.Pickle;
            map = PickleVocabularyFormat.Read(bytes, path);
        }

        Validate(map, path);
        return new Vocabulary(map);
    }

    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>Reads a flat JSON object of string -> int, rejecting repeated keys and anything but 32-bit integers.</summary>
    private static Dictionary<string, int> ReadJson(ReadOnlySpan<byte> json, string path)
    {
        var map = new Dictionary<string, int>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new VocabularyFormatException(path, "the JSON is not an object of string -> int");
            }

            while (true)
            {
                if (!reader.Read())
                {
                    throw new VocabularyFormatException(path, "the JSON ends before the object is closed (truncated)");
                }

                if (reader.TokenType == JsonTokenType.EndObject)
                {
                    break;
                }

                string key = reader.GetString()!;
                if (!reader.Read())
                {
                    throw new VocabularyFormatException(path, $"the JSON ends after key {Quote.Of(key)} (truncated)");
                }

                if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out int id))
                {
                    string value = reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray
                        ? reader.TokenType.ToString()
                        : Encoding.UTF8.GetString(reader.ValueSpan);
                    throw new VocabularyFormatException(path, $"line {LineOf(json, reader.TokenStartIndex)}: the id of {Quote.Of(key)} is {Quote.Of(value)}, not an integer of 32 bits");
                }

                if (!map.TryAdd(key, id))
                {
                    throw new VocabularyFormatException(path, $"line {LineOf(json, reader.TokenStartIndex)}: key {Quote.Of(key)} is given twice (ids {map[key]} and {id})");
                }
            }

            if (reader.Read())
            {
                throw new VocabularyFormatException(path, $"line {LineOf(json, reader.TokenStartIndex)}: content after the object");
            }
        }
        catch (InvalidOperationException e)
        {
            throw new VocabularyFormatException(path, $"line {LineOf(json, reader.TokenStartIndex)}: a key is not valid UTF-8 text ({e.Message})", e);
        }
        catch (JsonException e)
        {
            throw new VocabularyFormatException(path, $"line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1} of the line: the JSON is truncated or malformed ({e.Message})", e);
        }

        return map;
    }

    private static long LineOf(ReadOnlySpan<byte> bytes, long offset) => bytes[..(int)Math.Min(offset, bytes.Length)].Count((byte)'\n') + 1;

    /// <summary>Rejects negative, repeated or absurdly large ids.</summary>
    private static void Validate(Dictionary<string, int> map, string path)
    {
        long max = IdBound.Max(map.Count);
        var keyOf = new Dictionary<int, string>(map.Count);
        foreach (var (key, id) in map)
        {
            if (id < 0)
            {
                throw new VocabularyFormatException(path, $"entry {Quote.Of(key)} has the negative id {id}");
            }

            if (id > max)
            {
                throw new VocabularyFormatException(path, $"entry {Quote.Of(key)} has the id {id}, but {IdBound.Rule(map.Count)}");
            }

            if (!keyOf.TryAdd(id, key))
            {
                throw new VocabularyFormatException(path, $"entries {Quote.Of(keyOf[id])} and {Quote.Of(key)} share the id {id}");
            }
        }
    }

    /// <summary>
    /// Reads <paramref name="directory"/>/<paramref name="name"/>.pkl (or .json) when present; otherwise
    /// calls <paramref name="rebuild"/> and reports <see cref="VocabularySource.Rebuilt"/>.
    /// </summary>
    /// <param name="directory">Folder of the files.</param>
    /// <param name="name">Base name, e.g. <c>mid_voc</c>.</param>
    /// <param name="rebuild">Builds the vocabulary from the data when no file is there.</param>
    /// <param name="source">What was done.</param>
    /// <returns>The vocabulary.</returns>
    /// <exception cref="VocabularyFormatException">A file is there but is not a usable vocabulary (see <see cref="Read"/>).</exception>
    public static Vocabulary ReadOrRebuild(string directory, string name, Func<Vocabulary> rebuild, out VocabularySource source)
    {
        ArgumentNullException.ThrowIfNull(rebuild);
        foreach (string ext in new[] { ".pkl", ".json" })
        {
            string path = Path.Combine(directory, name + ext);
            if (File.Exists(path))
            {
                return Read(path, out source);
            }
        }

        source = VocabularySource.Rebuilt;
        return rebuild();
    }

    /// <summary>Writes a vocabulary as a protocol-2 pickle, entries in id order.</summary>
    /// <param name="path">The .pkl file.</param>
    /// <param name="vocabulary">The vocabulary.</param>
    public static void WritePickle(string path, Vocabulary vocabulary)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        PickleVocabularyFormat.Write(path, vocabulary.Entries.OrderBy(e => e.Value).ThenBy(e => e.Key, StringComparer.Ordinal));
    }

    /// <summary>Writes a vocabulary as a JSON object, entries in id order.</summary>
    /// <param name="path">The .json file.</param>
    /// <param name="vocabulary">The vocabulary.</param>
    public static void WriteJson(string path, Vocabulary vocabulary)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        var ordered = vocabulary.Entries.OrderBy(e => e.Value).ThenBy(e => e.Key, StringComparer.Ordinal).ToDictionary(e => e.Key, e => e.Value);
        File.WriteAllText(path, JsonSerializer.Serialize(ordered));
    }
}
