using Dien.Diagnostics;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Diagnostics;

/// <summary>The Newton fit behind <see cref="OrderSignal"/> recovers the weights that generated its labels.</summary>
public sealed class LogisticRegressionTests
{
    [Fact]
    public void TheFittedLogitsMatchTheGeneratingModel()
    {
        // logit = 0.5 + 2 x0 - 0.2 (x1 - 10) on features of different scales and offsets, plus a constant feature.
        var random = new Random(3);
        var rows = new List<double[]>();
        var labels = new List<float>();
        for (int i = 0; i < 40_000; i++)
        {
            double x0 = Gaussian(random), x1 = 10 + (5 * Gaussian(random));
            rows.Add([x0, x1, 7]);
            labels.Add(random.NextDouble() < 1 / (1 + Math.Exp(-(0.5 + (2 * x0) - (0.2 * (x1 - 10))))) ? 1 : 0);
        }

        var model = LogisticRegression.Fit(rows, labels);

        model.Logit([0, 10, 7]).Should().BeApproximately(0.5, 0.06);
        (model.Logit([1, 10, 7]) - model.Logit([0, 10, 7])).Should().BeApproximately(2, 0.08);
        (model.Logit([0, 15, 7]) - model.Logit([0, 10, 7])).Should().BeApproximately(-1, 0.06);
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
