using Dien.Embeddings;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Embeddings;

/// <summary>
/// <see cref="PackedHistory.SumRows"/>: each row's sum of its packed vectors, by one path for a single row (a sum along
/// the positions) and another for several (index_add); both against sums made by hand.
/// </summary>
public sealed class PackedHistoryTests
{
    private static PackedHistory Of(Tensor packed, params int[] lengths)
    {
        long width = Math.Max(1, lengths.DefaultIfEmpty(0).Max());
        var positions = new List<long>();
        var rows = new List<long>();
        for (int b = 0; b < lengths.Length; b++)
        {
            for (int t = 0; t < lengths[b]; t++)
            {
                positions.Add((b * width) + t);
                rows.Add(b);
            }
        }

        return new PackedHistory(packed, null, torch.tensor(positions.ToArray()), torch.tensor(rows.ToArray()), lengths, width);
    }

    /// <summary>The sums by hand, in double: row b's vectors are packed rows start .. start + lengths[b].</summary>
    private static double[,] ByHand(float[,] packed, int[] lengths)
    {
        var sums = new double[lengths.Length, packed.GetLength(1)];
        int start = 0;
        for (int b = 0; b < lengths.Length; b++)
        {
            for (int t = start; t < start + lengths[b]; t++)
            {
                for (int e = 0; e < packed.GetLength(1); e++)
                {
                    sums[b, e] += packed[t, e];
                }
            }

            start += lengths[b];
        }

        return sums;
    }

    private static void ShouldMatch(Tensor sums, double[,] expected)
    {
        sums.shape.Should().Equal(expected.GetLength(0), expected.GetLength(1));
        var actual = sums.to(ScalarType.Float64).data<double>().ToArray();
        for (int i = 0; i < actual.Length; i++)
        {
            actual[i].Should().BeApproximately(expected[i / expected.GetLength(1), i % expected.GetLength(1)], 1e-5, $"element {i}");
        }
    }

    private static float[,] Values(int n, int e)
    {
        var random = new Random(n + e);
        var v = new float[n, e];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < e; j++)
            {
                v[i, j] = (float)((random.NextDouble() * 4) - 2);
            }
        }

        return v;
    }

    [Theory]
    [InlineData(new[] { 5 })]
    [InlineData(new[] { 1 })]
    [InlineData(new[] { 3, 2, 4 })]
    [InlineData(new[] { 2, 0, 3 })]
    public void Each_row_sums_its_own_vectors(int[] lengths)
    {
        var values = Values(lengths.Sum(), 3);
        using var packed = torch.tensor(values);
        var history = Of(packed, lengths);
        using var sums = history.SumRows(packed);
        ShouldMatch(sums, ByHand(values, lengths));
    }

    [Fact]
    public void A_single_empty_row_sums_to_zero()
    {
        using var packed = torch.zeros(0, 3);
        var history = Of(packed, 0);
        using var sums = history.SumRows(packed);
        ShouldMatch(sums, new double[1, 3]);
    }

    [Fact]
    public void A_single_row_sums_as_it_does_among_others()
    {
        var values = Values(7, 4);
        using var packed = torch.tensor(values);
        using var alone = Of(packed.narrow(0, 0, 4), 4).SumRows(packed.narrow(0, 0, 4));
        using var among = Of(packed, 4, 3).SumRows(packed);
        alone.allclose(among.narrow(0, 0, 1), rtol: 1e-6, atol: 1e-6).Should().BeTrue();
    }
}
