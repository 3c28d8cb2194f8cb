using Dien.Kernels.Primitives;
using FluentAssertions;
using TorchSharp;
using Xunit;

namespace Dien.Tests.Kernels;

/// <summary>
/// <see cref="KernelWorkers.Run"/> and <see cref="KernelWorkers.Start"/>: every chunk runs exactly once, whatever the
/// workers; a chunk's exception reaches the caller after the call's other chunks are done; a background job lowers the
/// caller's libtorch thread count until its join.
/// </summary>
[Collection("Sequential")]
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

    [Fact]
    public void A_background_job_runs_every_chunk_once_and_gives_its_cores_back_at_the_join()
    {
        int threads = torch.get_num_threads();
        try
        {
            torch.set_num_threads(2);
            for (int call = 0; call < 100; call++)
            {
                var runs = new int[8];
                // The job's chunks wait for the gate, so that its helper is inside one while the caller runs its own kernel.
                using var gate = new ManualResetEventSlim();
                using var entered = new ManualResetEventSlim();
                var job = KernelWorkers.Start(c => { entered.Set(); gate.Wait(TimeSpan.FromSeconds(5)); Interlocked.Increment(ref runs[c]); }, 8, 2);
                torch.get_num_threads().Should().Be(1, "the helper holds one of the two threads until the join");
                KernelWorkers.Count.Should().Be(Math.Min(2, Environment.ProcessorCount), "kernels cut their work as before, so their results do not change");
                entered.Wait(TimeSpan.FromSeconds(10)).Should().BeTrue("a helper runs the job");
                var ranOn = new int[4];
                KernelWorkers.Run(c => ranOn[c] = Environment.CurrentManagedThreadId, 4, 2);
                ranOn.Should().OnlyContain(id => id == Environment.CurrentManagedThreadId, "the lent core's helper is inside one of its job's chunks, and no other helper is asked");
                gate.Set();
                job.Join();
                torch.get_num_threads().Should().Be(2);
                runs.Should().OnlyContain(r => r == 1, $"call {call}: each chunk should run once");
            }
        }
        finally
        {
            torch.set_num_threads(threads);
        }
    }

    [Fact]
    public void Once_a_background_job_has_run_its_chunks_the_callers_kernels_take_its_helper_back_before_the_join()
        => TestKit.WithLibTorchThreads(2, () =>
        {
            var runs = new int[4];
            var job = KernelWorkers.Start(c => Interlocked.Increment(ref runs[c]), 4, 2);
            // Until its chunks are counted done, not only run: that is what frees the helper.
            SpinWait.SpinUntil(() => !job.Busy, TimeSpan.FromSeconds(10)).Should().BeTrue("a helper runs the chunks");
            runs.Should().OnlyContain(r => r == 1);

            // Two chunks that each wait for the other: they finish only on two threads at once.
            using var both = new Barrier(2);
            var met = new bool[2];
            var ranOn = new int[2];
            KernelWorkers.Run(c => { ranOn[c] = Environment.CurrentManagedThreadId; met[c] = both.SignalAndWait(TimeSpan.FromSeconds(5)); }, 2, 2);
            job.Join();
            met.Should().OnlyContain(m => m, "a job whose chunks are done lends no core, though it is not joined yet");
            ranOn.Distinct().Should().HaveCount(2);
            torch.get_num_threads().Should().Be(2);
        });

    [Fact]
    public void While_a_background_job_runs_its_helper_takes_the_callers_chunks_between_its_own()
        => TestKit.WithLibTorchThreads(2, () =>
        {
            int caller = Environment.CurrentManagedThreadId;
            var runs = new int[200];
            using var entered = new ManualResetEventSlim();
            // Many short chunks: the job stays busy while its helper comes between two of them often.
            var job = KernelWorkers.Start(c => { entered.Set(); Thread.Sleep(1); Interlocked.Increment(ref runs[c]); }, runs.Length, 2);
            entered.Wait(TimeSpan.FromSeconds(10)).Should().BeTrue("a helper runs the job");

            // A call asking for one worker stays on the caller: the helper, free every millisecond, is not offered it.
            var alone = new int[4];
            KernelWorkers.Run(c => { alone[c] = Environment.CurrentManagedThreadId; Thread.Sleep(3); }, 4, 1);
            alone.Should().OnlyContain(id => id == caller);

            // The caller's first chunk waits until another thread has taken one of the call's chunks.
            using var helped = new ManualResetEventSlim();
            var ranOn = new int[4];
            var calls = new int[4];
            KernelWorkers.Run(
                c =>
                {
                    ranOn[c] = Environment.CurrentManagedThreadId;
                    Interlocked.Increment(ref calls[c]);
                    if (ranOn[c] != caller)
                    {
                        helped.Set();
                    }
                    else if (c == 0)
                    {
                        helped.Wait(TimeSpan.FromSeconds(10));
                    }
                },
                4,
                2);
            bool wasBusy = job.Busy;
            job.Join();

            helped.IsSet.Should().BeTrue("the busy job's helper takes the caller's chunks between its own");
            ranOn.Should().Contain(id => id != caller);
            calls.Should().OnlyContain(n => n == 1, "each of the call's chunks runs once");
            runs.Should().OnlyContain(n => n == 1, "each of the job's chunks runs once");
            wasBusy.Should().BeTrue("the call ran while the job still had chunks, as the test intends");
            torch.get_num_threads().Should().Be(2);
        });

    [Fact]
    public void With_one_worker_a_background_job_waits_for_its_join()
    {
        int threads = torch.get_num_threads();
        var runs = new int[4];
        var job = KernelWorkers.Start(c => Interlocked.Increment(ref runs[c]), 4, 1);
        Thread.Sleep(20);
        runs.Should().OnlyContain(r => r == 0, "no helper was asked");
        torch.get_num_threads().Should().Be(threads);
        job.Join();
        runs.Should().OnlyContain(r => r == 1);
    }

    [Fact]
    public void A_failing_background_chunk_surfaces_at_the_join_once_the_others_are_done()
    {
        int threads = torch.get_num_threads();
        int finished = 0;
        var job = KernelWorkers.Start(
            c =>
            {
                if (c == 2)
                {
                    throw new InvalidOperationException("chunk 2 failed");
                }

                Thread.Sleep(1);
                Interlocked.Increment(ref finished);
            },
            8,
            2);
        FluentActions.Invoking(job.Join).Should().Throw<AggregateException>().WithInnerException<InvalidOperationException>().WithMessage("chunk 2 failed");
        finished.Should().Be(7);
        torch.get_num_threads().Should().Be(threads, "the join puts the thread count back before it waits");
    }

    [Fact]
    public void Switched_off_for_measurements_a_background_job_runs_at_once_and_lends_nothing()
    {
        int threads = torch.get_num_threads();
        try
        {
            KernelWorkers.StartsInBackground = false;
            var runs = new int[8];
            var job = KernelWorkers.Start(c => Interlocked.Increment(ref runs[c]), 8, 2);
            runs.Should().OnlyContain(r => r == 1, "every chunk ran before Start returned");
            torch.get_num_threads().Should().Be(threads);
            job.Join();
            runs.Should().OnlyContain(r => r == 1, "the join runs nothing again");
        }
        finally
        {
            KernelWorkers.StartsInBackground = true;
        }
    }
}
