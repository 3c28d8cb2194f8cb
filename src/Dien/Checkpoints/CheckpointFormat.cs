using System.Text.Json;
using System.Text.Json.Serialization;
using Dien.Model;

namespace Dien.Checkpoints;

/// <summary>
/// What a checkpoint file is made of: its entry names, the JSON settings of its JSON entries, the options it must hold,
/// and how its messages quote bytes. Shared by <see cref="CheckpointWriter"/>, <see cref="CheckpointReader"/> and
/// <see cref="CheckpointLoader"/>; the layout itself is described on <see cref="Checkpoint"/>.
/// </summary>
internal static class CheckpointFormat
{
    public const string ManifestEntry = "manifest.json";
    public const string OptionsEntry = "options.json";
    public const string DataEntry = "data.json";
    public const string WeightsEntry = "weights.bin";
    public const string OptimizerEntry = "optimizer.bin";
    public const string TrainingEntry = "training.json";

    /// <summary>The most characters of an underlying error's message quoted in a <see cref="CheckpointException"/>.</summary>
    public const int MaxQuotedChars = 200;

    /// <summary>The settings of every JSON entry (options, data, training state, manifest).</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The settable <see cref="CtrModelOptions"/> properties: what options.json must hold (derived ones such as BehaviourSize are ignored).</summary>
    public static readonly IReadOnlySet<string> OptionNames = typeof(CtrModelOptions).GetProperties()
        .Where(p => p.CanWrite && p.GetSetMethod() is not null).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>The entry that holds the data contract in a file of <paramref name="version"/>.</summary>
    public static string DataEntryOf(int version) => version == 1 ? FormatVersion1.VocabulariesEntry : DataEntry;

    /// <summary>
    /// At most <see cref="MaxQuotedChars"/> characters of <paramref name="text"/>, with every character outside printable
    /// ASCII shown as '?' (runs of them as one), so that a message quoting a binary entry stays short and readable.
    /// </summary>
    public static string Excerpt(string text)
    {
        var sb = new System.Text.StringBuilder(Math.Min(text.Length, MaxQuotedChars) + 32);
        int i = 0;
        for (; i < text.Length && sb.Length < MaxQuotedChars; i++)
        {
            char c = text[i];
            bool printable = c is >= ' ' and <= '~';
            if (printable)
            {
                sb.Append(c);
            }
            else if (sb.Length == 0 || sb[^1] != '?')
            {
                sb.Append('?');
            }
        }

        if (i < text.Length)
        {
            sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"... ({text.Length} chars)");
        }

        return sb.ToString();
    }

    /// <summary>The bytes <paramref name="write"/> writes (a module's or an optimizer's TorchSharp format).</summary>
    public static byte[] Bytes(Action<BinaryWriter> write)
    {
        using var memory = new MemoryStream();
        using (var writer = new BinaryWriter(memory, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            write(writer);
        }

        return memory.ToArray();
    }
}
