using Dien.Attention;
using Dien.Data.Batching;
using Dien.Kernels.Primitives;
using Dien.Model;
using Dien.Tests.Model;
using Dien.Training;
using FluentAssertions;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Training;

/// <summary>
/// A training step whose heavy work is in the fused kernels runs libtorch on one thread while the kernels keep their
/// workers (<see cref="KernelWorkers.KernelsOnly"/>); every other model's steps keep libtorch's threads, and evaluation
/// follows the model's own rule for small calls (<see cref="SmallInferenceTests"/>).
/// </summary>
[Collection("Sequential")]
public sealed class KernelsOnlyStepTests
{
    private static int Workers => Math.Min(2, Environment.ProcessorCount);

    [Fact]
    public void Inside_the_scope_libtorch_runs_on_one_thread_and_the_kernels_keep_their_workers()
    {
        TestKit.WithLibTorchThreads(2, () =>
        {
            using (KernelWorkers.KernelsOnly(128))
            {
                torch.get_num_threads().Should().Be(1);
                KernelWorkers.Count.Should().Be(Workers);
                using (KernelWorkers.KernelsOnly(128))
                {
                    torch.get_num_threads().Should().Be(1, "a nested scope changes nothing");
                }

                torch.get_num_threads().Should().Be(1, "the inner scope leaves the outer one's narrowing in place");
                KernelWorkers.Count.Should().Be(Workers);

                // A background job inside the scope: its helper is lent from the kernels' workers, not from libtorch's one thread.
                var runs = new int[8];
                var job = KernelWorkers.Start(c => Interlocked.Increment(ref runs[c]), 8, KernelWorkers.Count);
                torch.get_num_threads().Should().Be(1);
                KernelWorkers.Count.Should().Be(Workers, "kernels cut their work as before");
                job.Join();
                runs.Should().OnlyContain(r => r == 1);
                torch.get_num_threads().Should().Be(1, "the join puts back the scope's count, not the one before it");
                KernelWorkers.Count.Should().Be(Workers);
            }

            torch.get_num_threads().Should().Be(2);
            KernelWorkers.Count.Should().Be(Workers);
        });
    }

    [Fact]
    public void Above_its_row_limit_the_scope_changes_nothing()
    {
        TestKit.WithLibTorchThreads(2, () =>
        {
            using (KernelWorkers.KernelsOnly(KernelWorkers.KernelsOnlyRows))
            {
                torch.get_num_threads().Should().Be(1, "the limit itself is narrowed");
            }

            using (KernelWorkers.KernelsOnly(KernelWorkers.KernelsOnlyRows + 1))
            {
                torch.get_num_threads().Should().Be(2, "libtorch's operations at more rows are worth its threads");
            }

            torch.get_num_threads().Should().Be(2);
        });
    }

    [Fact]
    public void With_libtorch_on_one_thread_already_the_scope_changes_nothing()
    {
        TestKit.WithLibTorchThreads(1, () =>
        {
            using (KernelWorkers.KernelsOnly(128))
            {
                torch.get_num_threads().Should().Be(1);
                KernelWorkers.Count.Should().Be(1, "one thread asked for is one worker");
            }

            torch.get_num_threads().Should().Be(1);
        });
    }

    [Fact]
    public void Models_whose_step_runs_in_the_kernels_are_the_ones_that_say_so()
    {
        using (var dien = new DienModel(ModelTestKit.TinyOptions()))
        {
            dien.TrainsOnFusedKernels.Should().BeTrue("DIEN's recurrences, attention and auxiliary loss run in kernels on the CPU");
            dien.to(ScalarType.Float64);
            dien.TrainsOnFusedKernels.Should().BeTrue("the kernels take float64 too");
        }

        var off = ModelTestKit.TinyOptions();
        off.UseFusedKernels = false;
        using (var dien = new DienModel(off))
        {
            dien.TrainsOnFusedKernels.Should().BeFalse("with the kernels off libtorch does the work");
        }

        using (var din = new DinModel(ModelTestKit.TinyOptions()))
        {
            din.TrainsOnFusedKernels.Should().BeTrue("DIN's MLP attention runs in a kernel");
        }

        using (var din = new DinModel(ModelTestKit.TinyOptions(AttentionForm.Bilinear)))
        {
            din.TrainsOnFusedKernels.Should().BeFalse("DIN's bilinear attention is libtorch's");
        }

        using (var baseModel = new SumPoolingModel(ModelTestKit.TinyOptions()))
        {
            baseModel.TrainsOnFusedKernels.Should().BeFalse("BaseModel's step is the lookup and a libtorch head");
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_trainer_narrows_libtorch_in_training_steps_only_and_puts_it_back(bool fusedKernels)
    {
        TestKit.WithLibTorchThreads(2, () =>
        {
            torch.manual_seed(1);
            var options = TinyCtrModel.SmallOptions();
            options.UseFusedKernels = fusedKernels;
            using var model = new ThreadRecordingModel(options);
            using var trainer = new CtrTrainer(model, new TrainerOptions { Epochs = 2, Patience = null });
            var valid = TinyData.Batches(2, 2);
            trainer.Fit(TinyData.Epochs(TinyData.Batches(1, 4), 3), () => valid);

            model.Training.Should().NotBeEmpty();
            model.Evaluation.Should().NotBeEmpty();
            var step = fusedKernels ? (Threads: 1, Workers) : (Threads: 2, Workers);
            model.Training.Distinct().Should().Equal(
                new[] { step },
                fusedKernels ? "a kernels-only step runs libtorch on one thread and the kernels on every worker" : "a model on libtorch keeps its threads");
            model.Evaluation.Distinct().Should().Equal(
                new[] { (Threads: 1, Workers) }, "evaluation batches of at most SmallInferenceRows rows run libtorch on one thread, narrowed by the model (SmallInferenceTests)");
            torch.get_num_threads().Should().Be(2);
        });
    }

    /// <summary>A model that says its step runs in the kernels and records the threads each call sees.</summary>
    private sealed class ThreadRecordingModel : CtrModel
    {
        private readonly Linear _output;

        public ThreadRecordingModel(CtrModelOptions options)
            : base(nameof(ThreadRecordingModel), options)
        {
            _output = nn.Linear(1, 1);
            RegisterComponents();
        }

        public List<(int Threads, int Workers)> Training { get; } = new();

        public List<(int Threads, int Workers)> Evaluation { get; } = new();

        private protected override bool HasFusedTrainingStep => true;

        protected override CtrOutput Score(BehaviourBatch batch)
        {
            (training ? Training : Evaluation).Add((torch.get_num_threads(), KernelWorkers.Count));
            using var scope = NewDisposeScope();
            var logit = _output.call(batch.Mask.sum(1, type: ScalarType.Float32).unsqueeze(1)).squeeze(1);
            var loss = batch.Labels is null ? null : nn.functional.binary_cross_entropy_with_logits(logit, batch.Labels);
            return new CtrOutput(
                logit.MoveToOuterDisposeScope(),
                logit.sigmoid().MoveToOuterDisposeScope(),
                loss?.MoveToOuterDisposeScope(),
                null,
                loss?.alias().MoveToOuterDisposeScope());
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _output.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
