using Dien.Metrics;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Metrics;

public class ClickMetricsTests
{
    [Fact]
    public void Auc_counts_correctly_ordered_pairs()
    {
        // Positives 0.9, 0.4; negatives 0.5, 0.1. Pairs: (0.9>0.5),(0.9>0.1),(0.4<0.5),(0.4>0.1) -> 3/4.
        ClickMetrics.Auc(new[] { 0.9f, 0.5f, 0.4f, 0.1f }, new[] { 1f, 0f, 1f, 0f }).Should().BeApproximately(0.75, 1e-12);
    }

    [Fact]
    public void Auc_counts_a_tie_between_classes_as_one_half()
    {
        // Positive 0.5 ties negative 0.5 (1/2), beats negative 0.2 (1) -> 1.5/2.
        ClickMetrics.Auc(new[] { 0.5f, 0.5f, 0.2f }, new[] { 1f, 0f, 0f }).Should().BeApproximately(0.75, 1e-12);
        // All scores equal: 0.5 whatever the labels.
        ClickMetrics.Auc(new[] { 0.3f, 0.3f, 0.3f, 0.3f, 0.3f }, new[] { 1f, 0f, 0f, 1f, 0f }).Should().BeApproximately(0.5, 1e-12);
    }

    [Fact]
    public void Auc_matches_pair_counting_on_random_data_with_many_ties()
    {
        var random = new Random(7);
        int n = 500;
        var scores = new float[n];
        var labels = new float[n];
        for (int i = 0; i < n; i++)
        {
            scores[i] = random.Next(20) / 20f;
            labels[i] = random.NextDouble() < 0.3 ? 1f : 0f;
        }

        double pairs = 0, good = 0;
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                if (labels[i] == 1f && labels[j] == 0f)
                {
                    pairs++;
                    good += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0;
                }
            }
        }

        ClickMetrics.Auc(scores, labels).Should().BeApproximately(good / pairs, 1e-12);
    }

    [Fact]
    public void Auc_of_one_class_is_NaN_and_perfect_and_reversed_orders_are_1_and_0()
    {
        double.IsNaN(ClickMetrics.Auc(new[] { 0.1f, 0.2f }, new[] { 1f, 1f })).Should().BeTrue();
        double.IsNaN(ClickMetrics.Auc(ReadOnlySpan<float>.Empty, ReadOnlySpan<float>.Empty)).Should().BeTrue();
        ClickMetrics.Auc(new[] { 0.1f, 0.2f, 0.8f }, new[] { 0f, 0f, 1f }).Should().Be(1.0);
        ClickMetrics.Auc(new[] { 0.9f, 0.2f, 0.1f }, new[] { 0f, 0f, 1f }).Should().Be(0.0);
    }

    [Fact]
    public void GroupAuc_weights_users_by_impressions_and_skips_one_class_users()
    {
        // User 1: 4 impressions, AUC 0.75 (case above). User 2: 2 impressions, AUC 0 (reversed).
        // User 3: 3 impressions, all negative: skipped. GAUC = (4*0.75 + 2*0) / 6 = 0.5.
        var scores = new[] { 0.9f, 0.5f, 0.4f, 0.1f, 0.2f, 0.8f, 0.3f, 0.6f, 0.7f };
        var labels = new[] { 1f, 0f, 1f, 0f, 1f, 0f, 0f, 0f, 0f };
        var users = new long[] { 1, 1, 1, 1, 2, 2, 3, 3, 3 };
        ClickMetrics.GroupAuc(scores, labels, users).Should().BeApproximately(0.5, 1e-12);
        double.IsNaN(ClickMetrics.GroupAuc(new[] { 0.1f, 0.2f }, new[] { 1f, 0f }, new long[] { 1, 2 })).Should().BeTrue();
    }

    [Fact]
    public void LogLoss_is_mean_cross_entropy_and_clips_confident_mistakes()
    {
        double expected = -(Math.Log(0.8) + Math.Log(1 - 0.3)) / 2;
        ClickMetrics.LogLoss(new[] { 0.8f, 0.3f }, new[] { 1f, 0f }).Should().BeApproximately(expected, 1e-6);
        ClickMetrics.LogLoss(new[] { 0f }, new[] { 1f }).Should().BeApproximately(-Math.Log(ClickMetrics.LogLossEpsilon), 1e-9);
    }

    [Fact]
    public void Bad_inputs_are_rejected_with_the_position_named()
    {
        var act = () => ClickMetrics.Auc(new[] { 0.1f, 0.2f }, new[] { 1f, 2f });
        act.Should().Throw<ArgumentException>().WithMessage("*labels[1] = 2*");
        var lengths = () => ClickMetrics.Auc(new[] { 0.1f }, new[] { 1f, 0f });
        lengths.Should().Throw<ArgumentException>();
        var range = () => ClickMetrics.LogLoss(new[] { 1.5f }, new[] { 1f });
        range.Should().Throw<ArgumentException>().WithMessage("*probabilities[0] = 1.5*");
    }
}
