namespace Dien.Diagnostics;

/// <summary>
/// A small ridge-penalised logistic regression fitted by Newton's method on standardised features: enough for
/// the dozen features of <see cref="OrderSignal"/>, with no learning rate to tune.
/// </summary>
internal sealed class LogisticRegression
{
    private const int Iterations = 25;
    private const double Ridge = 1e-4;
    private readonly double[] mean;
    private readonly double[] scale;
    private readonly double[] weights;

    private LogisticRegression(double[] mean, double[] scale, double[] weights)
    {
        this.mean = mean;
        this.scale = scale;
        this.weights = weights;
    }

    /// <summary>Fits the model to rows of features and their 0/1 labels.</summary>
    public static LogisticRegression Fit(IReadOnlyList<double[]> rows, IReadOnlyList<float> labels)
    {
        int d = rows[0].Length;
        var mean = new double[d];
        var scale = new double[d];
        foreach (var row in rows)
        {
            for (int j = 0; j < d; j++)
            {
                mean[j] += row[j] / rows.Count;
            }
        }

        foreach (var row in rows)
        {
            for (int j = 0; j < d; j++)
            {
                scale[j] += (row[j] - mean[j]) * (row[j] - mean[j]) / rows.Count;
            }
        }

        for (int j = 0; j < d; j++)
        {
            // A constant feature gets scale 1: it standardises to 0 and the ridge keeps its weight at 0.
            scale[j] = scale[j] > 0 ? Math.Sqrt(scale[j]) : 1;
        }

        var model = new LogisticRegression(mean, scale, new double[d + 1]);
        var standardised = rows.Select(row => model.Standardise(row)).ToArray();
        for (int iteration = 0; iteration < Iterations; iteration++)
        {
            var gradient = new double[d + 1];
            var hessian = new double[d + 1, d + 1];
            for (int i = 0; i < rows.Count; i++)
            {
                var x = standardised[i];
                double p = 1 / (1 + Math.Exp(-Dot(model.weights, x)));
                double r = p - labels[i];
                double w = p * (1 - p);
                for (int a = 0; a <= d; a++)
                {
                    gradient[a] += r * x[a];
                    for (int b = 0; b <= d; b++)
                    {
                        hessian[a, b] += w * x[a] * x[b];
                    }
                }
            }

            for (int a = 0; a <= d; a++)
            {
                gradient[a] = (gradient[a] / rows.Count) + (a > 0 ? Ridge * model.weights[a] : 0);
                for (int b = 0; b <= d; b++)
                {
                    hessian[a, b] = (hessian[a, b] / rows.Count) + (a == b ? Ridge : 0);
                }
            }

            var step = Solve(hessian, gradient);
            for (int a = 0; a <= d; a++)
            {
                model.weights[a] -= step[a];
            }
        }

        return model;
    }

    /// <summary>The model's logit for one row of features.</summary>
    public double Logit(double[] row) => Dot(weights, Standardise(row));

    // [1, standardised features]: the leading 1 carries the intercept.
    private double[] Standardise(double[] row)
    {
        var x = new double[row.Length + 1];
        x[0] = 1;
        for (int j = 0; j < row.Length; j++)
        {
            x[j + 1] = (row[j] - mean[j]) / scale[j];
        }

        return x;
    }

    private static double Dot(double[] a, double[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }

    // Gaussian elimination with partial pivoting; the ridge keeps the matrix positive definite.
    private static double[] Solve(double[,] a, double[] b)
    {
        int n = b.Length;
        var m = (double[,])a.Clone();
        var v = (double[])b.Clone();
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int row = col + 1; row < n; row++)
            {
                if (Math.Abs(m[row, col]) > Math.Abs(m[pivot, col]))
                {
                    pivot = row;
                }
            }

            for (int k = 0; k < n; k++)
            {
                (m[col, k], m[pivot, k]) = (m[pivot, k], m[col, k]);
            }

            (v[col], v[pivot]) = (v[pivot], v[col]);
            for (int row = col + 1; row < n; row++)
            {
                double f = m[row, col] / m[col, col];
                for (int k = col; k < n; k++)
                {
                    m[row, k] -= f * m[col, k];
                }

                v[row] -= f * v[col];
            }
        }

        var x = new double[n];
        for (int row = n - 1; row >= 0; row--)
        {
            double sum = v[row];
            for (int k = row + 1; k < n; k++)
            {
                sum -= m[row, k] * x[k];
            }

            x[row] = sum / m[row, row];
        }

        return x;
    }
}
