using Dien.Runtime;
using Dien.Training;
using FluentAssertions;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Training;

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

    [Fact]
    public void TheTrainerReleasesMemoryBetweenEpochsByDefault()
        => new TrainerOptions().ReleaseMemoryBetweenEpochs.Should().BeTrue();

    private static double ResidentMiB()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
    }
}
