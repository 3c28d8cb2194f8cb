using Dien.Attention;
using Dien.Data.Batching;
using Dien.Evolution;
using Dien.Model;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Model;

/// <summary>Tiny options and batches for the model tests.</summary>
internal static class ModelTestKit
{
    /// <summary>The registered model kinds every model test runs on.</summary>
    public static TheoryData<string> Kinds => new() { nameof(DienModel), "BaseModel", nameof(DinModel) };

    internal const long Items = 12;
    internal const long Categories = 5;
    internal const long Users = 6;

    /// <summary>Small widths so that tests run fast and finite differences stay cheap.</summary>
    internal static CtrModelOptions TinyOptions(AttentionForm attention = AttentionForm.Mlp, EvolutionVariant evolution = EvolutionVariant.Augru) => new()
    {
        ItemVocabularySize = Items,
        CategoryVocabularySize = Categories,
        UserVocabularySize = Users,
        ExtraFieldVocabularySizes = new List<long> { 4 },
        ItemEmbeddingSize = 3,
        CategoryEmbeddingSize = 2,
        UserEmbeddingSize = 2,
        HiddenSize = 4,
        Attention = attention,
        Evolution = evolution,
        AttentionHiddenSizes = new List<int> { 5, 3 },
        AuxiliaryHiddenSizes = new List<int> { 4 },
        HeadHiddenSizes = new List<int> { 6, 4 },
        // Every input path on, and unit-scale tables, so that the equation tests exercise each part with
        // values far from zero; the library's defaults are tested on their own (LearningDefaultsTests).
        UseUserField = true,
        HeadSumTerms = true,
        Alpha = 1,
        HeadBatchNorm = true,
        EmbeddingInitScale = 1,
    };

    /// <summary>
    /// A random batch of valid ids with the given lengths, padded to <paramref name="width"/>; padded slots hold
    /// <paramref name="paddingId"/> (any value: models must ignore it).
    /// </summary>
    internal static BatchArrays Arrays(int[] lengths, int width, int seed, long paddingId = 0, bool labels = true, bool negatives = true, bool historyLabels = false)
    {
        var random = new Random(seed);
        int b = lengths.Length;
        var items = new long[b * width];
        var categories = new long[b * width];
        var negativeItems = new long[b * width];
        var negativeCategories = new long[b * width];
        var positionLabels = new float[b * width];
        for (int row = 0; row < b; row++)
        {
            for (int t = 0; t < width; t++)
            {
                int i = (row * width) + t;
                bool valid = t < lengths[row];
                items[i] = valid ? random.Next(1, (int)Items) : paddingId;
                categories[i] = valid ? random.Next(1, (int)Categories) : paddingId;
                negativeItems[i] = valid ? random.Next(1, (int)Items) : paddingId;
                negativeCategories[i] = valid ? random.Next(1, (int)Categories) : paddingId;
                positionLabels[i] = valid ? random.Next(2) : 0;
            }
        }

        return new BatchArrays
        {
            Size = b,
            Width = width,
            UserIds = Enumerable.Range(0, b).Select(_ => (long)random.Next(1, (int)Users)).ToArray(),
            TargetItems = Enumerable.Range(0, b).Select(_ => (long)random.Next(1, (int)Items)).ToArray(),
            TargetCategories = Enumerable.Range(0, b).Select(_ => (long)random.Next(1, (int)Categories)).ToArray(),
            HistoryItems = items,
            HistoryCategories = categories,
            Lengths = lengths.ToArray(),
            Labels = labels ? Enumerable.Range(0, b).Select(row => (float)(row % 2)).ToArray() : null,
            NegativeItems = negatives ? negativeItems : null,
            NegativeCategories = negatives ? negativeCategories : null,
            HistoryLabels = historyLabels ? positionLabels : null,
            ExtraFieldCount = 1,
            ExtraFields = Enumerable.Range(0, b).Select(_ => (long)random.Next(0, 4)).ToArray(),
        };
    }

    /// <summary>The same rows padded to a wider width, padded slots filled with <paramref name="paddingId"/>.</summary>
    internal static BatchArrays Widen(BatchArrays a, int width, long paddingId)
    {
        long[] Pad(long[] values)
        {
            var result = new long[a.Size * width];
            for (int row = 0; row < a.Size; row++)
            {
                for (int t = 0; t < width; t++)
                {
                    result[(row * width) + t] = t < a.Lengths[row] ? values[(row * a.Width) + t] : paddingId;
                }
            }

            return result;
        }

        float[] PadLabels(float[] values)
        {
            var result = new float[a.Size * width];
            for (int row = 0; row < a.Size; row++)
            {
                for (int t = 0; t < a.Lengths[row]; t++)
                {
                    result[(row * width) + t] = values[(row * a.Width) + t];
                }
            }

            return result;
        }

        return new BatchArrays
        {
            Size = a.Size,
            Width = width,
            UserIds = a.UserIds,
            TargetItems = a.TargetItems,
            TargetCategories = a.TargetCategories,
            HistoryItems = Pad(a.HistoryItems),
            HistoryCategories = Pad(a.HistoryCategories),
            Lengths = a.Lengths,
            Labels = a.Labels,
            NegativeItems = a.NegativeItems is null ? null : Pad(a.NegativeItems),
            NegativeCategories = a.NegativeCategories is null ? null : Pad(a.NegativeCategories),
            HistoryLabels = a.HistoryLabels is null ? null : PadLabels(a.HistoryLabels),
            ExtraFieldCount = a.ExtraFieldCount,
            ExtraFields = a.ExtraFields,
        };
    }

    /// <summary>Runs forward and backward on the loss; returns the logits, the loss and every parameter's gradient.</summary>
    internal static (double[] Logit, double Loss, Dictionary<string, double[]> Gradients) Run(CtrModel model, BatchArrays arrays)
    {
        using var scope = NewDisposeScope();
        model.zero_grad();
        using var batch = new BehaviourBatch(arrays);
        using var output = model.call(batch);
        output.Loss!.backward();
        var gradients = model.named_parameters().ToDictionary(
            p => p.name,
            p => p.parameter.grad is null ? new double[p.parameter.numel()] : TestKit.Values(p.parameter.grad));
        return (TestKit.Values(output.Logit), output.Loss.to_type(ScalarType.Float64).item<double>(), gradients);
    }
}
