using System.Runtime.InteropServices;
using TorchSharp;

namespace Dien.Runtime;

/// <summary>
/// Sets libtorch's intra-op thread count for the calling thread alone, for the library's short narrowings (a training
/// step's libtorch operations beside the kernels, a small scoring call).
/// </summary>
/// <remarks>
/// <para>
/// <c>torch.set_num_threads</c> sets the calling thread's OpenMP count and MKL's thread-local count, and also a
/// process-wide count that every thread copies on its first libtorch call. A narrowing through it therefore leaked:
/// a thread that first used libtorch meanwhile (a server's new thread, a training job started beside a busy service)
/// kept one thread for good, and its kernels one worker.
/// </para>
/// <para>
/// Here the same two per-thread settings are made directly: OpenMP's <c>omp_set_num_threads</c> (the calling thread's
/// own count, which libtorch reads before each parallel operation) and MKL's <c>MKL_Set_Num_Threads_Local</c> (its
/// matrix products), both found through libtorch's own library, so they are the runtimes libtorch uses. Once found,
/// a probe checks that the OpenMP setting moves libtorch's count on this thread; if a symbol is missing or the probe
/// fails (another platform's build, another OpenMP runtime), <see cref="Set"/> falls back to
/// <c>torch.set_num_threads</c> and <see cref="ThreadLocal"/> is false.
/// </para>
/// </remarks>
internal static unsafe class LibTorchThreads
{
    private static readonly delegate* unmanaged<int, void> s_openMpSet;
    private static readonly delegate* unmanaged<int, int> s_mklSetLocal;

    static LibTorchThreads()
    {
        // Loads libtorch and gives this thread its count first: a thread's first libtorch call overwrites its OpenMP count.
        int threads = torch.get_num_threads();
        var (openMpLibrary, torchLibrary) = Libraries();
        if (openMpLibrary is null || torchLibrary is null
            || !NativeLibrary.TryLoad(openMpLibrary, out nint openMp) || !NativeLibrary.TryGetExport(openMp, "omp_set_num_threads", out nint openMpSet))
        {
            return;
        }

        // The C entry point: the lower-case mkl_set_num_threads_local is the Fortran one, which takes a pointer.
        nint mklSetLocal = 0;
        bool mkl = NativeLibrary.TryLoad(torchLibrary, out nint torchCpu) && NativeLibrary.TryGetExport(torchCpu, "MKL_Set_Num_Threads_Local", out mklSetLocal);
        if (!mkl && RuntimeInformation.ProcessArchitecture == Architecture.X64)
        {
            // x64 builds of libtorch run their products in MKL: narrowing OpenMP alone would leave them wide.
            return;
        }

        var set = (delegate* unmanaged<int, void>)openMpSet;
        int probe = threads == 1 ? 2 : 1;
        set(probe);
        bool moved = torch.get_num_threads() == probe;
        set(threads);
        if (moved)
        {
            s_openMpSet = set;
            s_mklSetLocal = mkl ? (delegate* unmanaged<int, int>)mklSetLocal : null;
        }
    }

    /// <summary>Whether <see cref="Set"/> changes the calling thread's count only (false: it falls back to <c>torch.set_num_threads</c>).</summary>
    public static bool ThreadLocal => s_openMpSet != null && UseThreadLocal;

    /// <summary>Whether to use the per-thread settings when found (internal: tests turn it off to check the fallback).</summary>
    internal static bool UseThreadLocal { get; set; } = true;

    /// <summary>Sets the calling thread's libtorch count to <paramref name="threads"/>; returns what <see cref="Restore"/> puts back.</summary>
    /// <param name="threads">The new count, at least 1.</param>
    public static Saved Set(int threads)
    {
        int before = torch.get_num_threads();
        if (!ThreadLocal)
        {
            torch.set_num_threads(threads);
            return new Saved(before, 0, ThreadLocal: false);
        }

        s_openMpSet(threads);
        int mklBefore = s_mklSetLocal != null ? s_mklSetLocal(threads) : 0;
        return new Saved(before, mklBefore, ThreadLocal: true);
    }

    /// <summary>Puts back what <see cref="Set"/> changed; call it on the thread that called <see cref="Set"/>, innermost first.</summary>
    public static void Restore(Saved saved)
    {
        if (!saved.ThreadLocal)
        {
            torch.set_num_threads(saved.Threads);
            return;
        }

        s_openMpSet(saved.Threads);
        if (s_mklSetLocal != null)
        {
            // 0, MKL's "no thread-local count", hands the thread back to MKL's global one.
            s_mklSetLocal(saved.MklLocal);
        }
    }

    /// <summary>
    /// The libraries, by the names libtorch loads them under, that hold the OpenMP runtime's entry points and MKL's: on
    /// Linux and macOS libtorch's CPU library for both (a library's symbols are looked up in its dependencies too), on
    /// Windows the OpenMP library it loads, and its CPU library. Null where not known.
    /// </summary>
    private static (string? OpenMp, string? Torch) Libraries()
        => OperatingSystem.IsLinux() ? ("libtorch_cpu.so", "libtorch_cpu.so")
            : OperatingSystem.IsMacOS() ? ("libtorch_cpu.dylib", "libtorch_cpu.dylib")
            : OperatingSystem.IsWindows() ? ("libiomp5md.dll", "torch_cpu.dll")
            : (null, null);

    /// <summary>What <see cref="Set"/> changed on a thread, for <see cref="Restore"/>.</summary>
    /// <param name="Threads">libtorch's count on the thread before.</param>
    /// <param name="MklLocal">MKL's thread-local count before (0: none).</param>
    /// <param name="ThreadLocal">Whether it was set per thread.</param>
    internal readonly record struct Saved(int Threads, int MklLocal, bool ThreadLocal);
}
