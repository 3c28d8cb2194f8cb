using System.Text.Json.Serialization;
using Dien.Model;

namespace Dien.Checkpoints;

/// <summary>
/// What a checkpoint records about the data a model was trained on, so that serving maps and cuts its input the way
/// training did: the raw-id maps of users, items and categories, each item's category, and the history cut.
/// </summary>
/// <remarks>
/// Index 0 is the unknown row of every table: no raw id maps to it and item 0 has no stored category (an unknown item
/// sent without a category is scored with the unknown category). <see cref="Checkpoint.Save(string, CtrModel, CheckpointData?)"/>
/// checks every index against the model's vocabulary sizes.
/// </remarks>
public sealed class CheckpointData
{
    private static readonly IReadOnlyDictionary<string, long> NoIds = new Dictionary<string, long>();
    private static readonly IReadOnlyDictionary<long, long> NoCategories = new Dictionary<long, long>();

    /// <summary>Raw user id to user index (1 .. <see cref="CtrModelOptions.UserVocabularySize"/> - 1).</summary>
    /// <value>The default value is empty: raw ids are then read as the indices themselves.</value>
    public IReadOnlyDictionary<string, long> Users { get; init; } = NoIds;

    /// <summary>Raw item id to item index (1 .. <see cref="CtrModelOptions.ItemVocabularySize"/> - 1).</summary>
    /// <value>The default value is empty: raw ids are then read as the indices themselves.</value>
    public IReadOnlyDictionary<string, long> Items { get; init; } = NoIds;

    /// <summary>Raw category id to category index (1 .. <see cref="CtrModelOptions.CategoryVocabularySize"/> - 1).</summary>
    /// <value>The default value is empty: raw ids are then read as the indices themselves.</value>
    public IReadOnlyDictionary<string, long> Categories { get; init; } = NoIds;

    /// <summary>Item index to its category index, for requests that name an item without its category.</summary>
    /// <value>The default value is empty: no item has a known category.</value>
    public IReadOnlyDictionary<long, long> ItemCategories { get; init; } = NoCategories;

    /// <summary>
    /// The most recent behaviours of a history the model was trained on; <see cref="Inference.CtrPredictor"/> keeps at
    /// most this many (the most recent) of every history it scores, so serving sees what training saw.
    /// </summary>
    /// <value>The default value is null: not recorded (files of format version 1), and histories are not cut.</value>
    public int? MaxHistoryLength { get; init; }

    /// <summary>No maps and no cut.</summary>
    [JsonIgnore]
    public static CheckpointData Empty { get; } = new();

    /// <summary>The item's stored category, or 0 (unknown) for item 0 and items without one.</summary>
    /// <param name="item">An item index.</param>
    /// <returns>The category index.</returns>
    public long CategoryOf(long item) => item > 0 && ItemCategories.TryGetValue(item, out long category) ? category : 0;

    /// <summary>Every way these maps do not fit a model of <paramref name="options"/>, each naming the map and the entry.</summary>
    internal IReadOnlyList<string> Validate(CtrModelOptions options)
    {
        var problems = new List<string>();
        void Ids(string name, IReadOnlyDictionary<string, long>? map, long size)
        {
            if (map is null)
            {
                problems.Add($"{name} is null: use an empty map.");
                return;
            }

            foreach (var (raw, index) in map)
            {
                if (index < 1 || index >= size)
                {
                    problems.Add($"{name}[{Data.Quote.Of(raw)}] = {index}: must be in 1 .. {size - 1} (0 is the unknown row; the model's table has {size} rows).");
                    return;
                }
            }
        }

        Ids(nameof(Users), Users, options.UserVocabularySize);
        Ids(nameof(Items), Items, options.ItemVocabularySize);
        Ids(nameof(Categories), Categories, options.CategoryVocabularySize);
        if (ItemCategories is null)
        {
            problems.Add($"{nameof(ItemCategories)} is null: use an empty map.");
        }
        else
        {
            foreach (var (item, category) in ItemCategories)
            {
                if (item < 1 || item >= options.ItemVocabularySize || category < 0 || category >= options.CategoryVocabularySize)
                {
                    problems.Add($"{nameof(ItemCategories)}[{item}] = {category}: the item must be in 1 .. {options.ItemVocabularySize - 1} (item 0 is the unknown item and has no category) and the category in 0 .. {options.CategoryVocabularySize - 1}.");
                    break;
                }
            }
        }

        if (MaxHistoryLength is < 1)
        {
            problems.Add($"{nameof(MaxHistoryLength)} = {MaxHistoryLength}: must be at least 1, or null when not known.");
        }

        return problems;
    }
}
