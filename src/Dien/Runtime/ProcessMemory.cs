using System.Runtime.InteropServices;

namespace Dien.Runtime;

/// <summary>
/// Hands memory that training has freed back to the operating system, between epochs. A training step
/// allocates and frees tens of megabytes of tensors; glibc keeps the freed blocks in its heap (and its
/// holes grow with the batch shapes), and the .NET heap keeps garbage until a full collection, so the
/// resident size creeps up epoch after epoch although live memory is flat.
/// </summary>
internal static partial class ProcessMemory
{
    /// <summary>glibc's mallopt parameter numbers (malloc.h).</summary>
    private const int TrimThreshold = -1, TopPad = -2, MmapThreshold = -3;

    /// <summary>The largest mmap threshold glibc accepts on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX): blocks up to it come from the heap.</summary>
    private const int LargestMmapThreshold = 32 * 1024 * 1024;

    /// <summary>Free memory at a heap's top that glibc keeps rather than hands back by itself (<see cref="Release"/> still does).</summary>
    private const int KeptTop = 1024 * 1024 * 1024;

    /// <summary>
    /// Free space glibc keeps at the top of a heap when it could hand it back (a thread arena's heaps are at most 64 MiB:
    /// with this pad an emptied one is kept rather than deleted, which the trim threshold does not prevent).
    /// </summary>
    private const int KeptHeapPad = 64 * 1024 * 1024;

    private static bool _noMallocTrim;
    private static int _keepingFreedBlocks;

    /// <summary>
    /// Makes glibc keep the blocks training frees for the next step instead of unmapping them: blocks up to 32 MiB come
    /// from the heap (not one mmap each) and a heap's free top is not handed back by itself. A step allocates tensors of
    /// the batch's padded width and frees them; by default glibc maps each large one afresh and unmaps it on free, so
    /// every step touches new pages, and on a virtual machine a page fault costs microseconds: on unbucketed Amazon
    /// batches (89 % padding) that was most of a step (docs/performance.md). <see cref="Release"/> between epochs
    /// still hands the free pages back. A thread other than the main one allocates from a thread arena made of heaps of
    /// at most 64 MiB, and glibc deletes a heap that empties whatever the trim threshold; the top pad keeps those too, so
    /// training on a worker thread keeps its blocks as on the main thread. Process-wide and left in place; Linux with
    /// glibc only (a no-op elsewhere).
    /// </summary>
    /// <returns>True when the settings are in place (now or before).</returns>
    public static bool KeepFreedBlocks()
    {
        if (!OperatingSystem.IsLinux() || _noMallocTrim)
        {
            return false;
        }

        if (Volatile.Read(ref _keepingFreedBlocks) == 1)
        {
            return true;
        }

        try
        {
            // Both thresholds set explicitly: setting either turns off glibc's dynamic adjustment of the two.
            bool applied = MallOpt(MmapThreshold, LargestMmapThreshold) == 1 && MallOpt(TrimThreshold, KeptTop) == 1
                && MallOpt(TopPad, KeptHeapPad) == 1;
            Volatile.Write(ref _keepingFreedBlocks, applied ? 1 : 0);
            return applied;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            _noMallocTrim = true; // not glibc
            return false;
        }
    }

    /// <summary>
    /// A full .NET collection (finalizers included, so tensors dropped without Dispose free their native
    /// memory), then glibc's <c>malloc_trim(0)</c>, which returns the free pages of every malloc arena.
    /// Costs tens of milliseconds (docs/performance.md); not meant for every batch (pages handed back are
    /// faulted in again).
    /// </summary>
    public static void Release()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        if (!OperatingSystem.IsLinux() || _noMallocTrim)
        {
            return;
        }

        try
        {
            MallocTrim(0);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // Not glibc (musl has no malloc_trim): nothing to hand back this way.
            _noMallocTrim = true;
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int parameter, int value);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
