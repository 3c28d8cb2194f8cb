using Dien.Data.Batching;
using Dien.Kernels.Primitives;
using Dien.Runtime;
using Dien.Model;
using Dien.Tests.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Runtime;

/// <summary>
/// The step timeline (<c>workload --timeline</c>): a DIEN training step passes its marks in the order the step runs
/// them, only the thread that began recording records, and nothing is recorded outside a step.
/// </summary>
[Collection("Sequential")]
public sealed class StepTimelineTests
{
    [Fact]
    public void A_training_step_passes_the_models_marks_in_order_and_nothing_else_records()
    {
        torch.manual_seed(5);
        using var model = new DienModel(ModelTestKit.TinyOptions());
        using var batch = new BehaviourBatch(ModelTestKit.Arrays([4, 1, 0, 6, 2], 6, seed: 3));
        model.TrainsOnFusedKernels.Should().BeTrue("the marks of the fused route are the ones under test");

        StepTimeline.Begin();
        try
        {
            model.train();
            Step(model, batch);
            model.eval();
            using (no_grad())
            {
                model.call(batch).Dispose();
            }

            // Another thread's step, though inside a step of this one's, is not this thread's time.
            StepTimeline.StartStep();
            var other = new Thread(() => StepTimeline.Mark("other thread"));
            other.Start();
            other.Join();
            StepTimeline.EndStep();
        }
        finally
        {
            var intervals = StepTimeline.End();
            var labels = intervals.Select(i => i.To).ToList();
            labels.Should().NotContain("other thread");
            intervals.Where(i => i.From == StepTimeline.StepStart && i.To == StepTimeline.StepEnd).Should().ContainSingle()
                .Which.Count.Should().Be(1, "the empty step of the last block");

            // The model's parts, in the order a packed DIEN step runs them.
            labels.Where(l => !l.Contains('.', StringComparison.Ordinal)).Should().ContainInOrder(
                "embedding", "extractor", "auxiliary loss started", "attention", "evolution", "head", "auxiliary loss joined", StepTimeline.StepEnd);

            // The kernels' nodes: forward before backward, each going in before it comes out.
            labels.Should().ContainInOrder("MlpAttentionFunction.forward: in", "MlpAttentionFunction.forward: out", "MlpAttentionFunction.backward: in", "MlpAttentionFunction.backward: out");
            labels.Should().Contain("NextBehaviourLossFunction.backward: out").And.Contain("LookupFunction.backward: out");

            // Evaluation ran outside a step: one pass of the model's marks, from the training step alone.
            intervals.Where(i => i.To == "embedding").Sum(i => i.Count).Should().Be(1);
            intervals.Should().OnlyContain(i => i.Milliseconds >= 0 && i.Count >= 1);
        }

        // Stopped: a mark records nothing, and a new recording starts empty.
        StepTimeline.StartStep();
        StepTimeline.Mark("after the end");
        StepTimeline.Begin();
        StepTimeline.End().Should().BeEmpty();
    }

    [Fact]
    public void A_background_job_records_how_long_its_helpers_ran_it_and_how_long_it_then_waited_for_the_join()
    {
        StepTimeline.Begin();
        try
        {
            StepTimeline.StartStep();
            var job = KernelWorkers.Start(_ => Thread.Sleep(20), 2, 2);
            SpinWait.SpinUntil(() => !job.Busy, TimeSpan.FromSeconds(10)).Should().BeTrue("a helper runs the chunks");
            Thread.Sleep(30);
            job.Join();

            // A join that has to wait for the helper's chunk records the job too: the helper sleeps in chunk 0, the
            // caller's join runs chunk 1 at once and waits.
            using var entered = new ManualResetEventSlim();
            var waited = KernelWorkers.Start(c => { if (c == 0) { entered.Set(); Thread.Sleep(20); } }, 2, 2);
            entered.Wait(TimeSpan.FromSeconds(10)).Should().BeTrue("a helper runs the job");
            waited.Join();
            StepTimeline.EndStep();

            // Outside a step a join records nothing.
            var outside = KernelWorkers.Start(_ => { }, 2, 2);
            outside.Join();
        }
        finally
        {
            var background = StepTimeline.BackgroundIntervals();
            StepTimeline.End().Should().NotContain(i => i.To == StepTimeline.BackgroundDone, "the helpers' time is not the recording thread's");
            background.Select(i => (i.From, i.To)).Should().Equal(
                (StepTimeline.BackgroundStarted, StepTimeline.BackgroundDone), (StepTimeline.BackgroundDone, StepTimeline.BackgroundJoined));
            background.Should().OnlyContain(i => i.Count == 2, "both jobs of the step, the one whose join waited too");
            background[0].Milliseconds.Should().BeGreaterThan(35, "the helpers slept in each chunk");
            background[1].Milliseconds.Should().BeGreaterThan(25, "the caller slept between the first job's last chunk and its join");
        }

        StepTimeline.Begin();
        StepTimeline.BackgroundIntervals().Should().BeEmpty("a new recording starts empty");
        StepTimeline.End();
    }

    private static void Step(DienModel model, BehaviourBatch batch)
    {
        StepTimeline.StartStep();
        using (NewDisposeScope())
        {
            using var output = model.call(batch);
            output.Loss!.backward();
        }

        StepTimeline.EndStep();
    }
}
