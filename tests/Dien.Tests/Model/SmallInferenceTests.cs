using Dien.Data.Batching;
using Dien.Inference;
using Dien.Kernels.Primitives;
using Dien.Model;
using Dien.Runtime;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Model;

/// <summary>
/// A scoring call of a few rows on CPU, or a ranking call of up to a few hundred candidates, runs libtorch on one thread
/// (<see cref="KernelWorkers.SmallInference"/>), and the thread count is back afterwards; training steps and larger
/// calls keep libtorch's threads; the scores do not depend on it beyond float rounding.
/// </summary>
[Collection("Sequential")]
public sealed class SmallInferenceTests
{
    /// <summary>libtorch's thread count seen by the head while <paramref name="model"/> scores a batch of <paramref name="rows"/> rows.</summary>
    private static int ThreadsInsideTheCall(DienModel model, int rows) => ThreadsSeenByTheHead(model, () => Score(model, rows));

    /// <summary>libtorch's thread count seen by <paramref name="model"/>'s head during <paramref name="call"/>.</summary>
    private static int ThreadsSeenByTheHead(DienModel model, Action call)
    {
        int seen = 0;
        var head = (nn.Module<Tensor, Tensor>)model.named_modules().Single(m => m.name == "head").module;
        var hook = head.register_forward_pre_hook((_, input) =>
        {
            seen = torch.get_num_threads();
            return input;
        });
        try
        {
            call();
        }
        finally
        {
            hook.remove();
        }

        return seen;
    }

    /// <summary>The tests' tiny DIEN (<see cref="ModelTestKit.TinyOptions"/>) in evaluation mode, seeded.</summary>
    private static DienModel EvaluatedModel(int seed)
    {
        torch.manual_seed(seed);
        var model = new DienModel(ModelTestKit.TinyOptions());
        model.eval();
        return model;
    }

    private static void Score(DienModel model, int rows)
    {
        var lengths = Enumerable.Range(0, rows).Select(r => 1 + (r % 4)).ToArray();
        using var batch = new BehaviourBatch(ModelTestKit.Arrays(lengths, width: 4, seed: rows));
        using (torch.NewDisposeScope())
        {
            using var output = model.call(batch);
        }
    }

    [Fact]
    public void A_call_of_a_few_rows_in_evaluation_runs_libtorch_on_one_thread_and_puts_it_back()
    {
        TestKit.WithLibTorchThreads(2, () =>
        {
            using var model = EvaluatedModel(3);
            using (torch.inference_mode(true))
            {
                ThreadsInsideTheCall(model, 1).Should().Be(1);
                torch.get_num_threads().Should().Be(2, "the call puts libtorch's count back");
                ThreadsInsideTheCall(model, KernelWorkers.SmallInferenceRows).Should().Be(1, "the limit itself is narrowed");
                ThreadsInsideTheCall(model, KernelWorkers.SmallInferenceRows + 1).Should().Be(2, "larger calls are worth libtorch's threads");
            }

            model.train();
            ThreadsInsideTheCall(model, 3).Should().Be(2, "a training step is narrowed by its trainer (KernelsOnly), not by the model");
            torch.get_num_threads().Should().Be(2);
        });
    }

    [Fact]
    public void A_ranking_call_of_up_to_SmallRankingRows_candidates_runs_libtorch_on_one_thread()
    {
        TestKit.WithLibTorchThreads(2, () =>
        {
            using var model = EvaluatedModel(6);
            using var predictor = new CtrPredictor(model);
            int Ranking(int candidates) => ThreadsSeenByTheHead(model, () => predictor.ScoreCandidates(
                1, [2, 3, 4], [1, 2, 3],
                Enumerable.Range(0, candidates).Select(i => 1L + (i % 11)).ToArray(),
                Enumerable.Range(0, candidates).Select(i => 1L + (i % 4)).ToArray(),
                extraFields: [1]));

            Ranking(KernelWorkers.SmallRankingRows).Should().Be(1, "the candidates of one history run the kernels, as a training step's rows do");
            Ranking(KernelWorkers.SmallRankingRows + 1).Should().Be(2);
            torch.get_num_threads().Should().Be(2);
        });
    }

    [Fact]
    public void A_thread_that_first_uses_libtorch_while_another_is_narrowed_keeps_its_threads()
    {
        // Narrowing changes the narrowed thread's count only: a service's new thread, or a training job started
        // beside a busy service, keeps libtorch's threads and the kernels' workers.
        if (!LibTorchThreads.ThreadLocal)
        {
            return;
        }

        TestKit.WithLibTorchThreads(2, () =>
        {
            int threads = 0, workers = 0;
            using (KernelWorkers.SmallInference(1))
            {
                var thread = new Thread(() =>
                {
                    threads = torch.get_num_threads();
                    workers = KernelWorkers.Count;
                });
                thread.Start();
                thread.Join();
                torch.get_num_threads().Should().Be(1, "this thread is narrowed");
            }

            threads.Should().Be(2);
            workers.Should().Be(Math.Min(2, Environment.ProcessorCount));
        });
    }

    [Fact]
    public void Without_per_thread_counts_a_thread_born_inside_a_narrowing_gets_its_threads_back_when_it_scores()
    {
        // The fallback narrows through the process-wide count, which libtorch copies into a thread's own on that
        // thread's first use: a thread born inside another's narrowing starts with one thread, and its first scoring
        // call puts it back.
        TestKit.WithLibTorchThreads(2, () =>
        {
            using var model = EvaluatedModel(4);
            int before = 0, inside = 0, after = 0;
            LibTorchThreads.UseThreadLocal = false;
            try
            {
                using (KernelWorkers.SmallInference(1))
                {
                    var thread = new Thread(() =>
                    {
                        before = torch.get_num_threads();
                        inside = ThreadsInsideTheCall(model, KernelWorkers.SmallInferenceRows + 1);
                        after = torch.get_num_threads();
                    });
                    thread.Start();
                    thread.Join();
                }
            }
            finally
            {
                LibTorchThreads.UseThreadLocal = true;
            }

            before.Should().Be(1, "the new thread copied the count narrowed by this one");
            inside.Should().Be(2, "a large call on that thread runs on the count narrowing found");
            after.Should().Be(2);
            torch.get_num_threads().Should().Be(2);
        });
    }

    [Fact]
    public void Narrowed_calls_score_as_wide_ones_do()
    {
        TestKit.WithLibTorchThreads(2, () =>
        {
            using var model = EvaluatedModel(5);
            using var batch = new BehaviourBatch(ModelTestKit.Arrays([3, 1, 4, 2, 0], width: 4, seed: 11));
            float[] Scores()
            {
                using var inference = torch.inference_mode(true);
                using var scope = torch.NewDisposeScope();
                using var output = model.call(batch);
                return output.Probability.data<float>().ToArray();
            }

            var narrowed = Scores();
            KernelWorkers.NarrowsLibTorch = false;
            float[] wide;
            try
            {
                wide = Scores();
            }
            finally
            {
                KernelWorkers.NarrowsLibTorch = true;
            }

            narrowed.Should().Equal(wide, (a, b) => Math.Abs(a - b) <= 1e-6f);
        });
    }
}
