using System.Diagnostics;
using System.Globalization;
using Dien.Kernels.Attention;
using Dien.Kernels.NextBehaviour;
using Dien.Kernels.Primitives;
using Dien.Kernels.Recurrence;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Bench;

/// <summary>The raw kernels alone (no autograd node, no libtorch op around them), to see where time goes.</summary>
internal static class KernelTiming
{
    public static unsafe void Run(int repeat)
    {
        using var w = new Workload();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        const int B = Workload.Batch, T = Workload.Steps, H = Workload.Hidden;
        var x = w.InputProjection().contiguous();
        var weight = w.WeightHh.detach().contiguous();
        var bias = w.BiasHh.detach().contiguous();
        var att = w.Attention.detach().contiguous();
        var states = empty(B, T, H);
        var gates = empty(B, T, RecurrenceKernel<float>.GateStride(H));
        var grad = randn(B, T, H);
        var dX = empty(B, T, 3 * H);
        var dA = empty(B, T);
        var dW = empty(3 * H, H);
        var dB = empty(3 * H);
        var buf = new float[4096];
        var wt = new float[36 * 120];
        fixed (float* pb = buf)
        fixed (float* pw = wt)
        {
            float* pbp = pb, pwp = pw;
                        Median("3520 x (Sigmoid(80) + Tanh(40))", repeat, () =>
            {
                for (int i = 0; i < 3520; i++)
                {
                    VectorOps<float>.SigmoidInPlace(pbp, 80);
                    VectorOps<float>.TanhInPlace(pbp + 100, 40);
                }
            });
                        Median("3520 x AccumulateRows(36 x 120)", repeat, () =>
            {
                for (int i = 0; i < 3520; i++)
                {
                    VectorOps<float>.AccumulateRows(pbp, 36, pwp, 120, pbp + 200);
                }
            });
        }

        var xLeaf = x.detach().clone().requires_grad_();
        var wLeaf = weight.clone().requires_grad_();
        var bLeaf = bias.clone().requires_grad_();
        var aLeaf = att.clone().requires_grad_();
                Median("input projection (linear) fwd+bwd", repeat, () =>
        {
            using var s = NewDisposeScope();
            using var g = enable_grad();
            w.InputProjection().sum().backward();
        });
        // The packed route's projection: W's 3,520 valid positions, libtorch's linear against the kernels' own.
        var packedX = w.Inputs.detach().reshape(-1, Workload.Width).narrow(0, 0, 3520).contiguous().requires_grad_();
        var packedGrad = randn(3520, 3 * Workload.Hidden);
        foreach (var (name, project) in new (string, Func<Tensor>)[]
        {
            ("libtorch linear", () => nn.functional.linear(packedX, w.WeightIh, w.BiasIh)),
            ("FusedLinear", () => Dien.Kernels.Projection.FusedLinear.Apply(packedX, w.WeightIh, w.BiasIh)),
        })
        {
            Median($"packed projection [3520, 36] x [36, 108], {name}: fwd", repeat, () =>
            {
                using var s = NewDisposeScope();
                using var g = enable_grad();
                project();
            });
            Median($"packed projection [3520, 36] x [36, 108], {name}: fwd+bwd", repeat, () =>
            {
                using var s = NewDisposeScope();
                using var g = enable_grad();
                project().backward(new[] { packedGrad });
            });
        }

                Median("fused AUGRU final state fwd+bwd on a leaf xProj", repeat, () =>
        {
            using var s = NewDisposeScope();
            using var g = enable_grad();
            FusedRecurrence.AttentionalFinalState(xLeaf, aLeaf, wLeaf, bLeaf, w.Lengths, RecurrentCell.AugruPaper).sum().backward();
        });
                Median("fused AUGRU final state fwd only", repeat, () =>
        {
            using var s = NewDisposeScope();
            FusedRecurrence.AttentionalFinalState(xLeaf, aLeaf, wLeaf, bLeaf, w.Lengths, RecurrentCell.AugruPaper);
        });
                Median("empty gates+states+dX (10 MB) and fill", repeat, () =>
        {
            using var s = NewDisposeScope();
            empty(B, T, 160).fill_(1); empty(B, T, H).fill_(1); empty(B, T, 3 * H).fill_(1);
        });

        foreach (int workers in new[] { 1, 2 })
        {
            Median($"raw forward kernel, {workers} worker(s)", repeat, () => RecurrenceKernel<float>.Forward(RecurrentCell.AugruPaper, B, T, H, false, false,
                TensorMemory.Pointer<float>(x), TensorMemory.Pointer<float>(att), TensorMemory.Pointer<float>(weight), TensorMemory.Pointer<float>(bias), w.Lengths,
                TensorMemory.Pointer<float>(states), null, TensorMemory.Pointer<float>(gates), workers));
            Median($"raw backward kernel, {workers} worker(s)", repeat, () => RecurrenceKernel<float>.Backward(RecurrentCell.AugruPaper, B, T, H, false, false,
                TensorMemory.Pointer<float>(grad), null, TensorMemory.Pointer<float>(att), TensorMemory.Pointer<float>(weight), w.Lengths,
                TensorMemory.Pointer<float>(states), TensorMemory.Pointer<float>(gates),
                TensorMemory.Pointer<float>(dX), TensorMemory.Pointer<float>(dA), TensorMemory.Pointer<float>(dW), TensorMemory.Pointer<float>(dB), workers));
        }
    }

    /// <summary>
    /// The fused auxiliary loss and attention kernels at W's median batch (128 rows of 28 steps; scorer 72-100-50-1,
    /// attention 80-40), and the matrix product they run on.
    /// </summary>
    public static unsafe void RunAuxiliary(int repeat)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        const int B = 128, T = 28, H = 36, E = 36;
        int[] widths = [100, 50, 1];
        var states = randn(B, T, H);
        var behaviours = randn(B, T, E);
        var negatives = randn(B, T, E);
        var mask = ones(B, T, dtype: ScalarType.Bool);
        var weights = new List<Tensor>();
        var biases = new List<Tensor>();
        int input = H + E;
        foreach (int n in widths)
        {
            weights.Add(randn(n, input) * 0.1);
            biases.Add(randn(n) * 0.1);
            input = n;
        }

        var problem = new NextBehaviourLossKernel<float>.Problem
        {
            Batch = B, Steps = T, Hidden = H, Behaviour = E,
            States = TensorMemory.Pointer<float>(states), Behaviours = TensorMemory.Pointer<float>(behaviours), Negatives = TensorMemory.Pointer<float>(negatives),
            Mask = TensorMemory.Pointer<byte>(mask), Widths = widths,
            Weights = Addresses(weights), Biases = Addresses(biases),
        };
        var gradTensors = new[] { states, behaviours, negatives }.Select(t => zeros_like(t)).Concat(weights.Concat(biases).Select(t => empty_like(t))).ToArray();
        var gradients = new NextBehaviourLossKernel<float>.Gradients
        {
            States = TensorMemory.Pointer<float>(gradTensors[0]), Behaviours = TensorMemory.Pointer<float>(gradTensors[1]), Negatives = TensorMemory.Pointer<float>(gradTensors[2]),
            Weights = Addresses(gradTensors.Skip(3).Take(3)),
            Biases = Addresses(gradTensors.Skip(6)),
        };
        double mflop = B * (T - 1) * 2.0 * 2 * ((72 * 100) + (100 * 50) + 50) * 3 / 1e6;
        foreach (int workers in new[] { 1, 2 })
        {
            double fwd = Median($"auxiliary kernel, value only, {workers} worker(s)", repeat, () => NextBehaviourLossKernel<float>.Run(problem, null, workers, out _));
            double all = Median($"auxiliary kernel, value and gradients, {workers} worker(s)", repeat, () => NextBehaviourLossKernel<float>.Run(problem, gradients, workers, out _));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {mflop:F0} MFLOP with gradients: {mflop / all:F1} GFLOP/s; forward {mflop / 3 / fwd:F1} GFLOP/s"));
        }

        var keys = randn(B, T, H);
        var query = randn(B, H);
        int[] attentionWidths = [80, 40, 1];
        var attentionWeights = new List<Tensor>();
        var attentionBiases = new List<Tensor>();
        int attentionInput = 4 * H;
        foreach (int n in attentionWidths)
        {
            attentionWeights.Add(randn(n, attentionInput) * 0.1);
            attentionBiases.Add(randn(n) * 0.1);
            attentionInput = n;
        }

        var attention = new MlpAttentionKernel<float>.Problem
        {
            Batch = B, Steps = T, Hidden = H, Keys = TensorMemory.Pointer<float>(keys), Query = TensorMemory.Pointer<float>(query),
            Mask = TensorMemory.Pointer<byte>(mask), Widths = attentionWidths, Weights = Addresses(attentionWeights), Biases = Addresses(attentionBiases),
        };
        var scores = empty(B, T);
        var saved = empty(B, T, MlpAttentionKernel<float>.SavedWidth(attentionWidths));
        var dKeys = zeros(B, T, H);
        var dQuery = empty(B, H);
        var dAttentionWeights = attentionWeights.Select(t => empty_like(t)).ToList();
        var dAttentionBiases = attentionBiases.Select(t => empty_like(t)).ToList();
        double attentionMflop = B * T * 2.0 * ((H * 80) + (80 * 40) + 40) * 3 / 1e6;
        foreach (int workers in new[] { 1, 2 })
        {
            double f = Median($"attention kernel forward, {workers} worker(s)", repeat, () => MlpAttentionKernel<float>.Forward(attention, TensorMemory.Pointer<float>(scores), TensorMemory.Pointer<float>(saved), workers));
            double b = Median($"attention kernel backward, {workers} worker(s)", repeat, () => MlpAttentionKernel<float>.Backward(attention, TensorMemory.Pointer<float>(scores), TensorMemory.Pointer<float>(saved),
                TensorMemory.Pointer<float>(dKeys), TensorMemory.Pointer<float>(dQuery), Addresses(dAttentionWeights), Addresses(dAttentionBiases), workers));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {attentionMflop:F0} MFLOP forward and backward: {attentionMflop / (f + b):F1} GFLOP/s"));
        }

        var a = randn(32, 72);
        var m = randn(72, 104);
        var y = zeros(32, 104);
        double gemm = Median("100 x MultiplyAccumulate 32 x 72 x 104", repeat, () =>
        {
            for (int i = 0; i < 100; i++)
            {
                VectorOps<float>.MultiplyAccumulate(TensorMemory.Pointer<float>(a), 72, 1, 32, 72, TensorMemory.Pointer<float>(m), 104, TensorMemory.Pointer<float>(y), 104);
            }
        });
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {100 * 2.0 * 32 * 72 * 104 / 1e6 / gemm:F1} GFLOP/s on one thread"));
    }

    private static unsafe nint[] Addresses(IEnumerable<Tensor> tensors) => tensors.Select(t => (nint)TensorMemory.Pointer<float>(t)).ToArray();

    private static double Median(string label, int repeat, Action action)
    {
        for (int i = 0; i < 40; i++)
        {
            action();
        }

        var samples = new double[repeat];
        for (int i = 0; i < repeat; i++)
        {
            var watch = Stopwatch.StartNew();
            action();
            samples[i] = watch.Elapsed.TotalMilliseconds;
        }

        Array.Sort(samples);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{label}: min {samples[0]:F3} ms, median {samples[repeat / 2]:F3} ms, max {samples[^1]:F3} ms"));
        return samples[repeat / 2];
    }
}
