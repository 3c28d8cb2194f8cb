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
public static class VocabularyFiles
{
    /// <summary>
    /// Reads a vocabulary file, pickle or JSON, detected by content (a pickle starts with byte 0x80
    /// or '(' / '}', JSON with '{').
    /// </summary>
    /// <param name="path">The file, e.g. <c>mid_voc.pkl</c>.</param>
    /// <param name="source">Which format was read.</param>
    public static Vocabulary Read(string path, out VocabularySource source)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int first = 0;
        while (first < bytes.Length && (bytes[first] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or 0xEF or 0xBB or 0xBF))
        {
            first++;
        }

        if (first < bytes.Length && bytes[first] == (byte)'{')
        {
            source = VocabularySource.Json;
            var map = JsonSerializer.Deserialize<Dictionary<string, int>>(bytes.AsSpan(first))
                ?? throw new InvalidDataException($"{path}: the JSON is not an object of string -> int.");
            return new Vocabulary(map);
        }

        source = VocabularySource.Pickle;
        return new Vocabulary(PickleVocabularyFormat.Read(bytes, path));
    }

    /// <summary>
    /// Reads <paramref name="directory"/>/<paramref name="name"/>.pkl (or .json) when present; otherwise
    /// calls <paramref name="rebuild"/> and reports <see cref="VocabularySource.Rebuilt"/>.
    /// </summary>
    /// <param name="directory">Folder of the files.</param>
    /// <param name="name">Base name, e.g. <c>mid_voc</c>.</param>
    /// <param name="rebuild">Builds the vocabulary from the data when no file is there.</param>
    /// <param name="source">What was done.</param>
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
