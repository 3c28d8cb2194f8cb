using Dien.Model;

namespace Dien.Tests;

/// <summary>Small random batches and options for model tests (seeded, so every run sees the same data).</summary>
internal static class TestBatches
{
    public static DienOptions TinyOptions(EvolutionVariant evolution = EvolutionVariant.Augru, AttentionForm attention = AttentionForm.Mlp) => new()
    {
        ItemVocabularySize = 30,
        CategoryVocabularySize = 6,
        UserVocabularySize = 5,
        ItemEmbeddingSize = 3,
        CategoryEmbeddingSize = 2,
        UserEmbeddingSize = 2,
        HiddenSize = 4,
        AttentionHiddenSizes = [6, 3],
        AuxiliaryHiddenSizes = [5, 3],
        HeadHiddenSizes = [8, 4],
        Evolution = evolution,
        Attention = attention,
    };

    /// <summary>A batch with labels and negatives; <paramref name="lengths"/> fix the valid lengths, <paramref name="width"/> the padding.</summary>
    public static BatchArrays Random(DienOptions options, int[] lengths, int width, int seed, long paddingId = 0)
    {
        var random = new Random(seed);
        int size = lengths.Length;
        long Item() => random.NextInt64(1, options.ItemVocabularySize);
        long Category() => random.NextInt64(1, options.CategoryVocabularySize);
        var items = new long[size * width];
        var categories = new long[size * width];
        var negativeItems = new long[size * width];
        var negativeCategories = new long[size * width];
        var historyLabels = new float[size * width];
        for (int b = 0; b < size; b++)
        {
            for (int t = 0; t < width; t++)
            {
                int i = (b * width) + t;
                bool valid = t < lengths[b];
                items[i] = valid ? Item() : paddingId;
                categories[i] = valid ? Category() : paddingId;
                negativeItems[i] = valid ? Item() : paddingId;
                negativeCategories[i] = valid ? Category() : paddingId;
                historyLabels[i] = valid ? random.Next(2) : 0;
            }
        }

        return new BatchArrays
        {
            Size = size,
            Width = width,
            UserIds = Enumerable.Range(0, size).Select(_ => random.NextInt64(1, options.UserVocabularySize)).ToArray(),
            TargetItems = Enumerable.Range(0, size).Select(_ => Item()).ToArray(),
            TargetCategories = Enumerable.Range(0, size).Select(_ => Category()).ToArray(),
            HistoryItems = items,
            HistoryCategories = categories,
            Lengths = lengths,
            Labels = Enumerable.Range(0, size).Select(b => (float)(b % 2)).ToArray(),
            NegativeItems = negativeItems,
            NegativeCategories = negativeCategories,
            HistoryLabels = historyLabels,
        };
    }

    /// <summary>The same batch padded to a wider width, with <paramref name="fill"/> in the new and old padded slots.</summary>
    public static BatchArrays Repad(BatchArrays source, int width, long fill)
    {
        long[] Widen(long[] data) => Enumerable.Range(0, source.Size).SelectMany(b =>
            Enumerable.Range(0, width).Select(t => t < source.Lengths[b] ? data[(b * source.Width) + t] : fill)).ToArray();
        float[] WidenLabels(float[] data) => Enumerable.Range(0, source.Size).SelectMany(b =>
            Enumerable.Range(0, width).Select(t => t < source.Lengths[b] ? data[(b * source.Width) + t] : 1f)).ToArray();
        return new BatchArrays
        {
            Size = source.Size,
            Width = width,
            UserIds = source.UserIds,
            TargetItems = source.TargetItems,
            TargetCategories = source.TargetCategories,
            HistoryItems = Widen(source.HistoryItems),
            HistoryCategories = Widen(source.HistoryCategories),
            Lengths = source.Lengths,
            Labels = source.Labels,
            NegativeItems = Widen(source.NegativeItems!),
            NegativeCategories = Widen(source.NegativeCategories!),
            HistoryLabels = WidenLabels(source.HistoryLabels!),
        };
    }
}
