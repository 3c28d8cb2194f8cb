using System.Numerics;
using System.Runtime.Intrinsics;
using Dien.Kernels.Primitives;
using Dien.Kernels.Recurrence;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Kernels;

/// <summary>
/// The raw kernel: splitting rows across workers changes nothing but the summation order of the weight gradients;
/// every output position is written.
/// </summary>
[Collection("Sequential")]
public sealed class RecurrenceKernelTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    public unsafe void WorkersGiveTheSameResultsAsOne(int workers)
    {
        using var scope = NewDisposeScope();
        // Enough work (about 480 row-steps) that the kernel really uses up to 7 workers.
        const int B = 48, T = 20, H = 36;
        var gen = new Generator(13);
        var rng = new Random(4);
        int[] lengths = Enumerable.Range(0, B).Select(_ => rng.Next(0, T + 1)).ToArray();
        var x = randn(new long[] { B, T, 3 * H }, generator: gen);
        var att = rand(new long[] { B, T }, generator: gen);
        var w = randn(new long[] { 3 * H, H }, generator: gen) * 0.2;
        var bias = randn(new long[] { 3 * H }, generator: gen) * 0.2;
        var grad = randn(new long[] { B, T, H }, generator: gen);

        (Tensor States, Tensor DX, Tensor DA, Tensor DW, Tensor DB) Run(int parallelism)
        {
            var states = empty(B, T, H);
            var gates = empty(B, T, RecurrenceKernel<float>.GateStride(H));
            var dX = full(new long[] { B, T, 3 * H }, float.NaN);
            var dA = full(new long[] { B, T }, float.NaN);
            var dW = empty(3 * H, H);
            var dB = empty(3 * H);
            RecurrenceKernel<float>.Forward(RecurrentCell.AugruAuthorsCode, B, T, H, false, false,
                TensorMemory.Pointer<float>(x), TensorMemory.Pointer<float>(att), TensorMemory.Pointer<float>(w), TensorMemory.Pointer<float>(bias), lengths,
                TensorMemory.Pointer<float>(states), null, TensorMemory.Pointer<float>(gates), parallelism);
            RecurrenceKernel<float>.Backward(RecurrentCell.AugruAuthorsCode, B, T, H, false, false,
                TensorMemory.Pointer<float>(grad), null, TensorMemory.Pointer<float>(att), TensorMemory.Pointer<float>(w), lengths,
                TensorMemory.Pointer<float>(states), TensorMemory.Pointer<float>(gates),
                TensorMemory.Pointer<float>(dX), TensorMemory.Pointer<float>(dA), TensorMemory.Pointer<float>(dW), TensorMemory.Pointer<float>(dB), parallelism);
            return (states, dX, dA, dW, dB);
        }

        var one = Run(1);
        var many = Run(workers);
        many.States.eq(one.States).all().item<bool>().Should().BeTrue("rows are independent");
        many.DX.eq(one.DX).all().item<bool>().Should().BeTrue("every position of dX is written, padding with zeros");
        many.DA.eq(one.DA).all().item<bool>().Should().BeTrue();
        many.DW.allclose(one.DW, 1e-5, 1e-5).Should().BeTrue();
        many.DB.allclose(one.DB, 1e-5, 1e-5).Should().BeTrue();
        one.DW.abs().sum().item<float>().Should().BeGreaterThan(0);
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 1)]
    [InlineData(false, 2)]
    [InlineData(true, 2)]
    public unsafe void Every_output_is_written_and_both_upstream_gradients_count(bool packed, int workers)
    {
        // Outputs start as NaN, so a position the kernel forgets (padding, an empty row's final state) shows; dStates
        // and dFinal come together, the gradient of sum(states * ws) + sum(final * wf), checked against the oracle's
        // autograd. 34 rows of mixed lengths (0 and T among them) make, at H = 36, two chunks.
        using var scope = NewDisposeScope();
        const int T = 9, H = 36;
        int[] half = [3, 9, 0, 1, 9, 5, 2, 7, 0, 4, 9, 6, 8, 3, 1, 5, 2];
        int[] lengths = [.. half, .. Enumerable.Reverse(half)];
        int B = lengths.Length;
        var cell = RecurrentCell.AugruAuthorsCode;
        var gen = new Generator(31);
        var x = randn(new long[] { B, T, 3 * H }, dtype: ScalarType.Float64, generator: gen);
        var att = rand(new long[] { B, T }, dtype: ScalarType.Float64, generator: gen);
        var w = randn(new long[] { 3 * H, H }, dtype: ScalarType.Float64, generator: gen) * 0.2;
        var bias = randn(new long[] { 3 * H }, dtype: ScalarType.Float64, generator: gen) * 0.2;
        var ws = randn(new long[] { B, T, H }, dtype: ScalarType.Float64, generator: gen);
        var wf = randn(new long[] { B, H }, dtype: ScalarType.Float64, generator: gen);

        Tensor[] leaves = [x.clone().requires_grad_(), att.clone().requires_grad_(), w.clone().requires_grad_(), bias.clone().requires_grad_()];
        var statesRef = StepwiseRecurrence.Run(cell, RecurrentOutput.AllStates, leaves[0], leaves[1], leaves[2], leaves[3], lengths);
        var finalRef = StepwiseRecurrence.Run(cell, RecurrentOutput.FinalState, leaves[0], leaves[1], leaves[2], leaves[3], lengths);
        ((statesRef * ws).sum() + (finalRef * wf).sum()).backward();

        var positions = tensor(lengths.SelectMany((length, b) => Enumerable.Range(0, length).Select(t => (long)((b * T) + t))).ToArray());
        var xIn = packed ? x.reshape(-1, 3 * H).index_select(0, positions) : x;
        var dXRef = packed ? leaves[0].grad!.reshape(-1, 3 * H).index_select(0, positions) : leaves[0].grad!;
        var states = full(new long[] { B, T, H }, double.NaN, dtype: ScalarType.Float64);
        var final = full(new long[] { B, H }, double.NaN, dtype: ScalarType.Float64);
        var gates = full(new long[] { B, T, RecurrenceKernel<double>.GateStride(H) }, double.NaN, dtype: ScalarType.Float64);
        var dX = full(xIn.shape, double.NaN, dtype: ScalarType.Float64);
        var dA = full(new long[] { B, T }, double.NaN, dtype: ScalarType.Float64);
        var dW = full(new long[] { 3 * H, H }, double.NaN, dtype: ScalarType.Float64);
        var dB = full(new long[] { 3 * H }, double.NaN, dtype: ScalarType.Float64);
        RecurrenceKernel<double>.Forward(cell, B, T, H, packed, false,
            TensorMemory.Pointer<double>(xIn), TensorMemory.Pointer<double>(att), TensorMemory.Pointer<double>(w), TensorMemory.Pointer<double>(bias), lengths,
            TensorMemory.Pointer<double>(states), TensorMemory.Pointer<double>(final), TensorMemory.Pointer<double>(gates), workers);
        RecurrenceKernel<double>.Backward(cell, B, T, H, packed, false,
            TensorMemory.Pointer<double>(ws), TensorMemory.Pointer<double>(wf), TensorMemory.Pointer<double>(att), TensorMemory.Pointer<double>(w), lengths,
            TensorMemory.Pointer<double>(states), TensorMemory.Pointer<double>(gates),
            TensorMemory.Pointer<double>(dX), TensorMemory.Pointer<double>(dA), TensorMemory.Pointer<double>(dW), TensorMemory.Pointer<double>(dB), workers);

        (Tensor Kernel, Tensor Oracle, string Name)[] pairs =
            [(states, statesRef, "states"), (final, finalRef, "final"), (dX, dXRef, "dXProj"), (dA, leaves[1].grad!, "dAttention"), (dW, leaves[2].grad!, "dWeightHh"), (dB, leaves[3].grad!, "dBiasHh")];
        foreach (var (kernel, oracle, name) in pairs)
        {
            kernel.isfinite().all().item<bool>().Should().BeTrue($"every position of {name} is written");
            (kernel - oracle).abs().max().item<double>().Should().BeLessThan(1e-12, name);
        }
    }

#if NET9_0_OR_GREATER // net8.0 builds of the library have one register width
    [Fact]
    public void A_steps_lane_work_gives_the_same_bits_in_wide_and_narrow_registers()
    {
        foreach (var cell in Enum.GetValues<RecurrentCell>())
        {
            LaneWorkAtBothWidths(cell);
        }
    }

    private static unsafe void LaneWorkAtBothWidths(RecurrentCell cell)
    {
        // The per-step elementwise work runs in 512-bit registers where AVX-512 runs them, else in Vector<T>: the same
        // operations lane by lane, so the same bits; only dL/da, a sum over the lanes, may differ by its order.
        const int ph = 48;
        var random = new Random((int)cell + 5);
        float[] Draw(int n) => Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
        float[] saved = Draw(4 * ph), dh = Draw(ph), hp = Draw(ph), r = Draw(ph), gc = Draw(ph), xc = Draw(ph), u = Draw(ph), c = Draw(ph);
        const float a = 0.37f;
        float[][] narrow = [new float[3 * ph], new float[3 * ph], new float[ph], new float[ph], new float[ph]];
        float[][] wide = [new float[3 * ph], new float[3 * ph], new float[ph], new float[ph], new float[ph]];
        float daNarrow, daWide;
        fixed (float* ps = saved, pdh = dh, php = hp, pr = r, pgc = gc, pxc = xc, pu = u, pc = c)
        {
            fixed (float* dx = narrow[0], dgh = narrow[1], dhn = narrow[2], cand = narrow[3], hn = narrow[4])
            {
                daNarrow = RecurrenceKernel<float>.GateGradients<NarrowVectors<float>, Vector<float>>(cell, a, ps, pdh, php, dx, dgh, dhn, ph);
                VectorOps<float>.MulAdd<NarrowVectors<float>, Vector<float>>(pr, pgc, pxc, cand, ph);
                RecurrenceKernel<float>.Step<NarrowVectors<float>, Vector<float>>(cell, a, pu, pc, php, hn, ph);
            }

            fixed (float* dx = wide[0], dgh = wide[1], dhn = wide[2], cand = wide[3], hn = wide[4])
            {
                daWide = RecurrenceKernel<float>.GateGradients<WideVectors<float>, Vector512<float>>(cell, a, ps, pdh, php, dx, dgh, dhn, ph);
                VectorOps<float>.MulAdd<WideVectors<float>, Vector512<float>>(pr, pgc, pxc, cand, ph);
                RecurrenceKernel<float>.Step<WideVectors<float>, Vector512<float>>(cell, a, pu, pc, php, hn, ph);
            }
        }

        string[] names = ["dx", "dgh", "dh_prev's (1 - m) part", "candidate input", "next state"];
        // The last two are multiply-adds: the same bits only where the narrow registers fuse them too.
        for (int i = 0; i < (VectorOpsTests.NarrowRegistersFuse ? names.Length : 3); i++)
        {
            wide[i].Should().Equal(narrow[i], $"{cell}: {names[i]} is lane-by-lane work");
        }

        // One lane by hand: the next state moves hp towards c by the cell's move fraction m.
        float m = cell switch
        {
            RecurrentCell.Gru => 1 - u[5],
            RecurrentCell.UpdateGateGru => u[5],
            RecurrentCell.AugruPaper => a * u[5],
            RecurrentCell.AugruAuthorsCode => 1 - ((1 - a) * (1 - u[5])),
            _ => a,
        };
        wide[4][5].Should().BeApproximately(hp[5] + (m * (c[5] - hp[5])), 1e-6f, $"{cell}: h_t = h_prev + m * (c - h_prev)");
        daWide.Should().BeApproximately(daNarrow, 1e-5f * Math.Max(1, Math.Abs(daNarrow)), $"{cell}: dL/da sums the same lanes");
    }
#endif
}
