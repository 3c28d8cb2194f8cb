using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dien.Serve;

/// <summary>The body of POST /rank and POST /score: one user, the history (oldest first) and the candidates, as raw ids.</summary>
public sealed class ScoreRequest
{
    /// <summary>The user's raw id.</summary>
    [JsonConverter(typeof(RawIdConverter))]
    public string? User { get; set; }

    /// <summary>The user's behaviours, oldest first.</summary>
    public List<ItemRef?>? History { get; set; }

    /// <summary>The items to score.</summary>
    public List<ItemRef?>? Candidates { get; set; }
}

/// <summary>An item as raw ids; without a category, the item's stored category is used.</summary>
public sealed class ItemRef
{
    /// <summary>The item's raw id.</summary>
    [JsonConverter(typeof(RawIdConverter))]
    public string? Item { get; set; }

    /// <summary>The category's raw id, or null for the item's own.</summary>
    [JsonConverter(typeof(RawIdConverter))]
    public string? Category { get; set; }
}

/// <summary>Ids the served model does not know; they are scored as id 0 (the unknown row), as the predictor does.</summary>
/// <param name="Users">Unknown users (0 or 1).</param>
/// <param name="Items">Unknown items, in the history and the candidates.</param>
/// <param name="Categories">Unknown categories.</param>
public sealed record UnknownIds(int Users, int Items, int Categories);

/// <summary>One ranked candidate.</summary>
/// <param name="Item">The raw id as sent.</param>
/// <param name="Score">The click probability.</param>
public sealed record RankedItem(string Item, float Score);

/// <summary>The answer of POST /rank: the candidates, best first (ties keep the request's order).</summary>
/// <param name="Model">The version that scored them.</param>
/// <param name="Items">The ranked candidates.</param>
/// <param name="Unknown">Unknown ids.</param>
public sealed record RankResponse(string Model, IReadOnlyList<RankedItem> Items, UnknownIds Unknown);

/// <summary>The answer of POST /score: one probability per candidate, in the request's order.</summary>
/// <param name="Model">The version that scored them.</param>
/// <param name="Scores">The probabilities.</param>
/// <param name="Unknown">Unknown ids.</param>
public sealed record ScoreResponse(string Model, IReadOnlyList<float> Scores, UnknownIds Unknown);

/// <summary>Reads a raw id written as a JSON string or a whole number.</summary>
public sealed class RawIdConverter : JsonConverter<string>
{
    /// <inheritdoc />
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString(),
        JsonTokenType.Number when reader.TryGetInt64(out long id) => id.ToString(CultureInfo.InvariantCulture),
        JsonTokenType.Null => null,
        _ => throw new JsonException("an id must be a string or a whole number."),
    };

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}
