using Dien.Runtime;
using Dien.Training;
using TorchSharp;
using FluentAssertions;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Training;

[Collection(AloneCollection.Name)]
public class ProcessMemoryTests
{
    [SkippableFact]
    public void ReleaseHandsFreedTensorMemoryBackToTheSystem()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "reads /proc/self/status, and the release itself is glibc's: Linux only");

        // glibc serves a block from mmap (handed back at once on free) until a freed mmap block raises its
        // threshold: after this, 1 MiB blocks come from the heap, as a training step's tensors do.
        ones(4 * 1024 * 1024).Dispose();

        // 320 blocks of 1 MiB, then every other one freed: a freed block lies between two live ones, so it
        // can neither merge into the top of the heap (which glibc trims by itself) nor be taken by small
        // allocations, and stays a resident hole, as the differently shaped tensors of training steps leave them.
        // (Small pins after each block were not enough: they could land in holes earlier tests had left.)
        var blocks = new List<TorchSharp.torch.Tensor>();
        for (int i = 0; i < 320; i++)
        {
            blocks.Add(ones(256 * 1024));
        }

        var pins = blocks.Where((_, i) => i % 2 == 1).ToList();
        blocks.Where((_, i) => i % 2 == 0).ToList().ForEach(b => b.Dispose());
        double held = ResidentMiB();
        ProcessMemory.Release();
        double after = ResidentMiB();
        pins.ForEach(p => p.Dispose());

        (held - after).Should().BeGreaterThan(100, $"the 160 MiB of freed blocks should leave RSS (it went from {held:F0} to {after:F0} MiB)");
    }

    [SkippableFact]
    public void KeptFreedBlocksServeTheNextStepWithoutFaultingInNewPages()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "glibc's mallopt and /proc/self/stat: Linux only");
        ProcessMemory.KeepFreedBlocks().Should().BeTrue("glibc accepts both settings");

        // By glibc's defaults the freed top of the heap (96 MiB, above the largest trim threshold glibc sets by itself,
        // 64 MiB) goes back to the system and the next step faults every page in again; kept, the next step finds them
        // resident. A test runs on a worker thread, whose thread arena has heaps of 64 MiB: the step spills into a
        // second heap, which glibc deletes when it empties unless the top pad keeps it (without the pad, 6 of the 12
        // blocks faulted each step). Six steps a round: by glibc's defaults every other step faults 5 of its blocks in
        // again, and without the top pad every other step faults the 2 or 3 blocks of the spilled heap; kept, none do.
        const int measuredSteps = 6;
        long faults = FaultsOfTheFewerRound(() =>
        {
            for (int measured = 0; measured < measuredSteps; measured++)
            {
                Step();
            }
        });

        // Defaults: 14,272 to 30,723 faults in six steps; thresholds without the pad: 12,291; kept: 0. The class runs alone
        // (a test beside it took a freed block from the same arena in every step once); a quarter of the pages is the margin.
        faults.Should().BeLessThan(StepPages / 4, $"each step's {StepPages} pages were freed by the step before and kept; {faults} page faults in {measuredSteps} steps (the fewer of two rounds) say some were handed back");
    }

    [SkippableFact]
    public void BetweenEpochsKeptBlocksStayResidentForTheNextEpochsSteps()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "glibc's mallopt and /proc/self/stat: Linux only");
        ProcessMemory.KeepFreedBlocks().Should().BeTrue("glibc accepts both settings");

        // An epoch's end, then the next epoch's first step. malloc_trim(0) there (what Release does) hands every free
        // page of the step's blocks back, and the step faults all of them in again: a whole step's pages each round.
        long faults = FaultsOfTheFewerRound(() =>
        {
            ProcessMemory.ReleaseBetweenEpochs();
            Step();
        });

        faults.Should().BeLessThan(StepPages / 4, $"the step's {StepPages} pages were kept across the epoch's end; {faults} page faults in its first step (the fewer of two rounds) say they were handed back");
    }

    // A step's worth of large tensors (12 x 8 MiB), freed together as a step's are.
    private const int StepFloats = 2 * 1024 * 1024, StepBlocks = 12;

    private static long StepPages => (long)StepBlocks * StepFloats * sizeof(float) / Environment.SystemPageSize;

    private static void Step()
    {
        var tensors = Enumerable.Range(0, StepBlocks).Select(_ => ones(StepFloats)).ToList();
        tensors.ForEach(t => t.Dispose());
    }

    /// <summary>
    /// This thread's page faults in <paramref name="round"/>, the fewer of two rounds, after three steps. One libtorch
    /// thread, so that the tensors are filled on this thread, and this thread's page faults only: the runtime's own
    /// threads (a background collection) fault pages of their own meanwhile. In a process that has run other work (and
    /// malloc_trim) the first steps may take blocks from trimmed holes; once the steps' frees leave the same free lists,
    /// each step takes the blocks the last one freed. The fewer of two rounds: a settling is one round's (a full suite
    /// once had one round spill 3 blocks, 6,147 faults), while handing blocks back happens in every round.
    /// </summary>
    private static long FaultsOfTheFewerRound(Action round)
    {
        int threads = torch.get_num_threads();
        torch.set_num_threads(1);
        try
        {
            for (int warm = 0; warm < 3; warm++)
            {
                Step();
            }

            long faults = long.MaxValue;
            for (int i = 0; i < 2; i++)
            {
                long before = MinorFaultsOfThisThread();
                round();
                faults = Math.Min(faults, MinorFaultsOfThisThread() - before);
            }

            return faults;
        }
        finally
        {
            torch.set_num_threads(threads);
        }
    }

    [SkippableTheory]
    [InlineData(true, 1)]
    [InlineData(false, 0)]
    public void TheTrainerHandsTheNativeHeapBackOnceWhenFitEndsNotBetweenEpochs(bool release, int expected)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "malloc_trim is glibc's: Linux only");

        // Three epochs, each with its evaluation: the .NET heap is collected around each, while the native heap keeps
        // its blocks for the next epoch's steps (a trim there made them fault in again) and goes back once at the end.
        torch.manual_seed(3);
        using var model = new TinyCtrModel(TinyCtrModel.SmallOptions());
        using var trainer = new CtrTrainer(model, new TrainerOptions { Epochs = 3, Patience = null, ReleaseMemoryBetweenEpochs = release });
        var pool = TinyData.Batches(seed: 1, count: 4);
        int before = ProcessMemory.HandedBack;
        trainer.Fit(TinyData.Epochs(pool, 1), () => pool);

        ProcessMemory.KeepsFreedBlocks.Should().BeTrue("the trainer keeps freed blocks by default");
        (ProcessMemory.HandedBack - before).Should().Be(expected, "the native heap goes back when Fit ends, and only then");
    }

    [Fact]
    public void TheTrainerKeepsFreedMemoryWithinEpochsByDefault()
        => new TrainerOptions().KeepFreedMemoryWithinEpochs.Should().BeTrue();

    [Fact]
    public void TheTrainerReleasesMemoryBetweenEpochsByDefault()
        => new TrainerOptions().ReleaseMemoryBetweenEpochs.Should().BeTrue();

    /// <summary>This thread's minor page faults so far (/proc/thread-self/stat, field 10, counted after the command name).</summary>
    private static long MinorFaultsOfThisThread()
    {
        string stat = File.ReadAllText("/proc/thread-self/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[7], System.Globalization.CultureInfo.InvariantCulture); // fields from 3 (state) on
    }

    private static double ResidentMiB()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
    }
}
