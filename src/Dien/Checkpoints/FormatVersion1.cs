using System.Globalization;
using System.Text.Json;

namespace Dien.Checkpoints;

/// <summary>
/// Reads the data of a format-version-1 file: its <c>vocabularies.json</c> held named maps, of which the samples and
/// the Python package wrote <c>users</c>, <c>items</c>, <c>categories</c> (raw id -> index) and <c>item_category</c>
/// (item index as text -> category index). Version 1 recorded no history cut.
/// </summary>
internal static class FormatVersion1
{
    public const string VocabulariesEntry = "vocabularies.json";

    private const string UsersMap = "users";
    private const string ItemsMap = "items";
    private const string CategoriesMap = "categories";
    private const string ItemCategoryMap = "item_category";

    /// <summary>The typed data of a version-1 <c>vocabularies.json</c>; other named maps (none was written) are not carried.</summary>
    public static CheckpointData ReadData(Dictionary<string, Dictionary<string, long>?> maps, Func<string, Exception> unreadable)
    {
        IReadOnlyDictionary<string, long> Map(string name) =>
            maps.TryGetValue(name, out var map) ? map ?? throw unreadable($"map {Data.Quote.Of(name)} is null") : new Dictionary<string, long>();

        var itemCategories = new Dictionary<long, long>();
        foreach (var (item, category) in Map(ItemCategoryMap))
        {
            if (!long.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out long index))
            {
                throw unreadable($"map '{ItemCategoryMap}' has the key {Data.Quote.Of(item)}, not an item index");
            }

            // Version-1 training stored the category of the last unknown item under "0"; item 0 is the unknown item and has none.
            if (index != 0)
            {
                itemCategories[index] = category;
            }
        }

        return new CheckpointData
        {
            Users = Map(UsersMap),
            Items = Map(ItemsMap),
            Categories = Map(CategoriesMap),
            ItemCategories = itemCategories,
        };
    }

    /// <summary>Parses the named maps.</summary>
    public static Dictionary<string, Dictionary<string, long>?> Parse(byte[] bytes, JsonSerializerOptions json) =>
        JsonSerializer.Deserialize<Dictionary<string, Dictionary<string, long>?>>(bytes, json) ?? throw new JsonException("the entry is null");
}
