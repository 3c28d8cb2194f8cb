using Dien.Kernels.Primitives;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Kernels;

/// <summary><see cref="KernelWorkers.Run"/>: every chunk runs exactly once, whatever the workers; a chunk's exception reaches the caller after the call's other chunks are done.</summary>
public sealed class KernelWorkersTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(8, 2)]
    [InlineData(3, 8)]
    [InlineData(64, 4)]
    public void Every_chunk_runs_exactly_once(int chunks, int workers)
    {
        for (int call = 0; call < 200; call++)
        {
            var runs = new int[chunks];
            KernelWorkers.Run(c => Interlocked.Increment(ref runs[c]), chunks, workers);
            runs.Should().OnlyContain(r => r == 1, $"call {call}: each of {chunks} chunks on {workers} workers should run once");
        }
    }

    [Fact]
    public void A_failing_chunk_surfaces_as_an_aggregate_exception_once_the_others_are_done()
    {
        int finished = 0;
        var act = () => KernelWorkers.Run(
            c =>
            {
                if (c == 3)
                {
                    throw new InvalidOperationException("chunk 3 failed");
                }

                Thread.Sleep(1);
                Interlocked.Increment(ref finished);
            },
            8,
            2);
        act.Should().Throw<AggregateException>().WithInnerException<InvalidOperationException>().WithMessage("chunk 3 failed");
        finished.Should().Be(7, "the call returns only when every other chunk is done");
    }
}
