using System.Text.Json;
using System.Text.Json.Serialization;
using Dien.Model;

namespace Dien.Train;

/// <summary>
/// The --options file: a <see cref="CtrModelOptions"/> as JSON, by property name (a checkpoint's options.json, or the
/// file the Python trainer takes with its own --options), so that both runtimes can train the same layers.
/// </summary>
internal static class ModelOptionsFile
{
    private static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter() },
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow, // a misspelt option is an error, not a default
        AllowTrailingCommas = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
    };

    /// <summary>The options in <paramref name="path"/>; an <see cref="ArgumentException"/> naming the file and the problem otherwise.</summary>
    public static CtrModelOptions Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<CtrModelOptions>(File.ReadAllText(path), Json)
                ?? throw new ArgumentException($"--options {path}: the file holds null, not an object of options.");
        }
        catch (JsonException e)
        {
            string where = e.Path is { Length: > 1 } p ? $" at {p}" : string.Empty;
            throw new ArgumentException($"--options {path}: not a CtrModelOptions JSON{where} ({e.Message.Split(" Path:")[0]})", e);
        }
        catch (IOException e)
        {
            throw new ArgumentException($"--options {path}: cannot be read ({e.Message})", e);
        }
    }
}
