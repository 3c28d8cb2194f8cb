using Dien.Data.Batching;
using FluentAssertions;
using TorchSharp;
using Xunit;

namespace Dien.Tests.Data;

/// <summary>A batch's tensors hold exactly its arrays' values, in their shapes (they are copied in one block, not id by id).</summary>
public sealed class BehaviourBatchTests
{
    [Theory]
    [InlineData(3, 4)]
    [InlineData(128, 100)]
    [InlineData(2, 0)]
    [InlineData(0, 5)]
    public void Every_tensor_holds_its_arrays_values(int size, int width)
    {
        var random = new Random(size + width);
        long[] Ids(int count) => Enumerable.Range(0, count).Select(_ => (long)random.Next(0, 1 << 30) * random.Next(1, 8)).ToArray();
        var arrays = new BatchArrays
        {
            Size = size, Width = width, UserIds = Ids(size), TargetItems = Ids(size), TargetCategories = Ids(size),
            HistoryItems = Ids(size * width), HistoryCategories = Ids(size * width), NegativeItems = Ids(size * width), NegativeCategories = Ids(size * width),
            Lengths = Enumerable.Range(0, size).Select(_ => random.Next(0, width + 1)).ToArray(), Labels = Enumerable.Range(0, size).Select(i => (float)(i % 2)).ToArray(),
            HistoryLabels = Enumerable.Range(0, size * width).Select(i => (float)((i / 3) % 2)).ToArray(),
            ExtraFieldCount = 2, ExtraFields = Ids(size * 2),
        };

        using var batch = new BehaviourBatch(arrays);
        batch.UserIds.shape.Should().Equal(size);
        batch.HistoryItems.shape.Should().Equal(size, width);
        batch.ExtraFields!.shape.Should().Equal(size, 2);
        batch.UserIds.Values<long>().Should().Equal(arrays.UserIds);
        batch.TargetItems.Values<long>().Should().Equal(arrays.TargetItems);
        batch.TargetCategories.Values<long>().Should().Equal(arrays.TargetCategories);
        batch.HistoryItems.Values<long>().Should().Equal(arrays.HistoryItems);
        batch.HistoryCategories.Values<long>().Should().Equal(arrays.HistoryCategories);
        batch.NegativeItems!.Values<long>().Should().Equal(arrays.NegativeItems);
        batch.NegativeCategories!.Values<long>().Should().Equal(arrays.NegativeCategories);
        batch.ExtraFields.Values<long>().Should().Equal(arrays.ExtraFields);
        batch.Lengths.Values<long>().Should().Equal(arrays.Lengths.Select(l => (long)l));
        batch.Labels!.Values<float>().Should().Equal(arrays.Labels);
        batch.HistoryLabels!.shape.Should().Equal(size, width);
        batch.HistoryLabels.Values<float>().Should().Equal(arrays.HistoryLabels);
        batch.Mask.Values<bool>().Should().Equal(
            Enumerable.Range(0, size * width).Select(i => i % Math.Max(1, width) < arrays.Lengths[i / Math.Max(1, width)]));
    }
}

internal static class TensorValues
{
    // TorchSharp's accessor cannot copy out an empty tensor.
    public static T[] Values<T>(this torch.Tensor tensor)
        where T : unmanaged
        => tensor.numel() == 0 ? [] : tensor.data<T>().ToArray();
}
