using System.Runtime.InteropServices;
using Dien.Runtime;
using FluentAssertions;
using TorchSharp;
using Xunit;

namespace Dien.Tests.Runtime;

/// <summary>
/// <see cref="LibTorchThreads"/> sets libtorch's thread count (OpenMP's and MKL's) for the calling thread only, and
/// puts it back; without its per-thread settings it falls back to the process-wide <c>torch.set_num_threads</c>.
/// </summary>
[Collection("Sequential")]
public sealed unsafe class LibTorchThreadsTests
{
    /// <summary>libtorch's count on a thread that makes its first libtorch call now, and MKL's count there.</summary>
    private static (int LibTorch, int Mkl) OnANewThread()
    {
        (int, int) seen = default;
        var thread = new Thread(() => seen = (torch.get_num_threads(), MklThreads()));
        thread.Start();
        thread.Join();
        return seen;
    }

    /// <summary>MKL's thread count for the calling thread, as its products will use it (Linux x64: libtorch links MKL in).</summary>
    private static int MklThreads()
    {
        NativeLibrary.TryLoad("libtorch_cpu.so", out nint library).Should().BeTrue();
        NativeLibrary.TryGetExport(library, "MKL_Get_Max_Threads", out nint get).Should().BeTrue();
        return ((delegate* unmanaged<int>)get)();
    }

    private static bool LinuxX64 => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64;

    [Fact]
    public void Set_narrows_the_calling_thread_and_Restore_puts_it_back()
    {
        TestKit.WithLibTorchThreads(2, () =>
        {
            var saved = LibTorchThreads.Set(1);
            torch.get_num_threads().Should().Be(1);
            LibTorchThreads.Restore(saved);
            torch.get_num_threads().Should().Be(2);
        });
    }

    [Fact]
    public void On_linux_x64_other_threads_keep_the_process_count_and_so_does_MKL_after_the_restore()
    {
        // The package's tested platform; elsewhere the probe decides, and the fallback is tested below.
        if (!LinuxX64)
        {
            return;
        }

        LibTorchThreads.ThreadLocal.Should().BeTrue("libtorch_cpu.so holds both OpenMP's and MKL's entry points");
        TestKit.WithLibTorchThreads(2, () =>
        {
            // A thread that has used libtorch before the narrowing, and asks again during it.
            using var asked = new SemaphoreSlim(0);
            using var answered = new SemaphoreSlim(0);
            int running = 0;
            var runningThread = new Thread(() =>
            {
                torch.get_num_threads();
                asked.Wait();
                running = torch.get_num_threads();
                answered.Release();
            });
            runningThread.Start();

            var saved = LibTorchThreads.Set(1);
            int self, mkl;
            (int, int) born;
            try
            {
                self = torch.get_num_threads();
                mkl = MklThreads();
                born = OnANewThread();
                asked.Release();
                answered.Wait();
            }
            finally
            {
                LibTorchThreads.Restore(saved);
                asked.Release();
                runningThread.Join();
            }

            self.Should().Be(1);
            mkl.Should().Be(1, "libtorch's products run in MKL, which keeps its own count");
            born.Should().Be((2, 2), "a thread born during the narrowing takes the process's count");
            running.Should().Be(2, "a running thread keeps its own count");

            torch.get_num_threads().Should().Be(2);
            MklThreads().Should().Be(2);
        });
    }

    [Fact]
    public void Narrowings_inside_one_another_put_back_each_count_in_turn()
    {
        TestKit.WithLibTorchThreads(3, () =>
        {
            var outer = LibTorchThreads.Set(2);
            torch.get_num_threads().Should().Be(2);
            var inner = LibTorchThreads.Set(1);
            torch.get_num_threads().Should().Be(1);
            LibTorchThreads.Restore(inner);
            torch.get_num_threads().Should().Be(2);
            LibTorchThreads.Restore(outer);
            torch.get_num_threads().Should().Be(3);
        });
    }

    [Fact]
    public void Without_the_per_thread_settings_it_falls_back_to_the_process_wide_count()
    {
        TestKit.WithLibTorchThreads(2, () =>
        {
            LibTorchThreads.UseThreadLocal = false;
            try
            {
                LibTorchThreads.ThreadLocal.Should().BeFalse();
                var saved = LibTorchThreads.Set(1);
                saved.ThreadLocal.Should().BeFalse();
                torch.get_num_threads().Should().Be(1);
                int born = 0;
                var thread = new Thread(() => born = torch.get_num_threads());
                thread.Start();
                thread.Join();
                born.Should().Be(1, "torch.set_num_threads sets the count every new thread copies");
                LibTorchThreads.Restore(saved);
                torch.get_num_threads().Should().Be(2);
            }
            finally
            {
                LibTorchThreads.UseThreadLocal = true;
            }
        });
    }
}
