using Dien.Training;
using FluentAssertions;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Training;

public class ProcessMemoryTests
{
    [Fact]
    public void ReleaseHandsFreedTensorMemoryBackToTheSystem()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // Reads /proc/self/status; the release itself is glibc's.
        }

        // glibc serves a block from mmap (handed back at once on free) until a freed mmap block raises its
        // threshold: after this, 1 MiB blocks come from the heap, as a training step's tensors do.
        ones(4 * 1024 * 1024).Dispose();

        // 1 MiB blocks with a small live tensor after each: freed, they are holes glibc keeps (it only trims
        // the top of a heap by itself), as the differently shaped tensors of training steps leave them.
        var pins = new List<TorchSharp.torch.Tensor>();
        var blocks = new List<TorchSharp.torch.Tensor>();
        for (int i = 0; i < 160; i++)
        {
            blocks.Add(ones(256 * 1024));
            pins.Add(ones(16));
        }

        blocks.ForEach(b => b.Dispose());
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
