using Dien.Kernels.Primitives;
using Dien.Kernels.Recurrence;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Kernels;

/// <summary>The raw kernel: splitting rows across workers changes nothing but the summation order of the weight gradients.</summary>
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
            RecurrenceKernel<float>.Forward(RecurrentCell.AugruAuthorsCode, B, T, H, false,
                TensorMemory.Pointer<float>(x), TensorMemory.Pointer<float>(att), TensorMemory.Pointer<float>(w), TensorMemory.Pointer<float>(bias), lengths,
                TensorMemory.Pointer<float>(states), null, TensorMemory.Pointer<float>(gates), parallelism);
            RecurrenceKernel<float>.Backward(RecurrentCell.AugruAuthorsCode, B, T, H, false,
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
}
