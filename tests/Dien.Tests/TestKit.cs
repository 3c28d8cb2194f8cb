using FluentAssertions;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Tests;

/// <summary>Tensor helpers shared by the tests: set parameters by name, read values, finite differences.</summary>
internal static class TestKit
{
    /// <summary>Runs <paramref name="body"/> with libtorch on <paramref name="threads"/> threads, then puts the count back.</summary>
    internal static void WithLibTorchThreads(int threads, Action body)
    {
        int before = torch.get_num_threads();
        try
        {
            torch.set_num_threads(threads);
            body();
        }
        finally
        {
            torch.set_num_threads(before);
        }
    }

    /// <summary>Sets a named parameter of a module to the given values (row-major).</summary>
    internal static void SetParameter(nn.Module module, string name, params double[] values)
    {
        var parameter = module.named_parameters().Single(p => p.name == name).parameter;
        using var guard = no_grad();
        parameter.copy_(tensor(values, parameter.dtype).reshape(parameter.shape));
    }

    /// <summary>[B, T] bool mask whose row b has its first lengths[b] positions valid.</summary>
    internal static Tensor Mask(int[] lengths, long steps)
    {
        var values = new bool[lengths.Length * steps];
        for (int b = 0; b < lengths.Length; b++)
        {
            for (int t = 0; t < lengths[b]; t++)
            {
                values[b * steps + t] = true;
            }
        }

        return tensor(values).reshape(lengths.Length, steps);
    }

    /// <summary>Returns a copy of <paramref name="value"/> whose padded positions ([B, T, ...] or [B, T]) hold large random values.</summary>
    internal static Tensor ScramblePadding(Tensor value, Tensor mask)
    {
        var expanded = value.dim() == 3 ? mask.unsqueeze(-1) : mask;
        return where(expanded, value, randn_like(value) * 1000.0).detach();
    }

    /// <summary>Appends <paramref name="extra"/> padded columns (random values) along dim 1.</summary>
    internal static Tensor AppendPadding(Tensor value, long extra)
    {
        var shape = value.shape.ToArray();
        shape[1] = extra;
        var filler = value.dtype == ScalarType.Bool ? zeros(shape, ScalarType.Bool) : randn(shape, value.dtype) * 1000.0;
        return cat(new[] { value, filler }, 1).detach();
    }

    /// <summary>
    /// Compares the backward gradient of a scalar loss with central finite differences, element by element,
    /// for every tensor in <paramref name="targets"/> (parameters or leaf inputs, float64, requires_grad).
    /// </summary>
    internal static void CheckGradients(Func<Tensor> loss, IEnumerable<(string Name, Tensor Value)> targets, double eps = 1e-6, double tolerance = 1e-6)
    {
        var list = targets.ToList();
        foreach (var (_, value) in list)
        {
            value.grad?.zero_();
        }

        using (var value = loss())
        {
            value.backward();
        }

        foreach (var (name, value) in list)
        {
            value.dtype.Should().Be(ScalarType.Float64, "finite differences need float64 ({0})", name);
            var analytic = value.grad is null ? new double[value.numel()] : value.grad.reshape(-1).data<double>().ToArray();
            var flat = value.detach().view(-1);
            for (long i = 0; i < flat.shape[0]; i++)
            {
                double original = flat[i].item<double>();
                double plus;
                double minus;
                using (no_grad())
                {
                    flat[i] = original + eps;
                    plus = loss().item<double>();
                    flat[i] = original - eps;
                    minus = loss().item<double>();
                    flat[i] = original;
                }

                double numeric = (plus - minus) / (2 * eps);
                analytic[i].Should().BeApproximately(numeric, tolerance + tolerance * Math.Abs(numeric), "d loss / d {0}[{1}]", name, i);
            }
        }
    }

    internal static double Sigmoid(double x) => 1.0 / (1.0 + Math.Exp(-x));

    internal static double[] Values(Tensor value) => value.detach().to_type(ScalarType.Float64).reshape(-1).data<double>().ToArray();
}
