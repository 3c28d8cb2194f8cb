using System.Runtime.InteropServices;

namespace Dien.Runtime;

/// <summary>
/// Keeps training's memory flat and hands it back to the operating system. A training step allocates and frees
/// tens of megabytes of tensors: glibc keeps the freed blocks in its heap for the next step (<see
/// cref="KeepFreedBlocks"/>), and the .NET heap keeps garbage until a full collection, which would otherwise make
/// the resident size creep up epoch after epoch although live memory is flat.
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
    private static int _handedBack;

    /// <summary>How many times this process has handed the native heap's free pages back (<c>malloc_trim</c>).</summary>
    internal static int HandedBack => Volatile.Read(ref _handedBack);

    /// <summary>
    /// Makes glibc keep the blocks training frees for the next step instead of unmapping them: blocks up to 32 MiB come
    /// from the heap (not one mmap each) and a heap's free top is not handed back by itself. A step allocates tensors of
    /// the batch's padded width and frees them; by default glibc maps each large one afresh and unmaps it on free, so
    /// every step touches new pages, and on a virtual machine a page fault costs microseconds: on unbucketed Amazon
    /// batches (89 % padding) that was most of a step (docs/performance.md). The blocks stay kept between epochs too
    /// (<see cref="ReleaseBetweenEpochs"/>); <see cref="Release"/> hands the free pages back. A thread other than the
    /// main one allocates from a thread arena made of heaps of at most 64 MiB, and glibc deletes a heap that empties
    /// whatever the trim threshold; the top pad keeps those too, so training on a worker thread keeps its blocks as on
    /// the main thread. Process-wide and left in place; Linux with glibc only (a no-op elsewhere).
    /// </summary>
    /// <returns>True when the settings are in place (now or before).</returns>
    public static bool KeepFreedBlocks()
    {
        if (!OperatingSystem.IsLinux() || _noMallocTrim)
        {
            return false;
        }

        if (KeepsFreedBlocks)
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

    /// <summary>True when <see cref="KeepFreedBlocks"/> has put its settings in place in this process.</summary>
    public static bool KeepsFreedBlocks => Volatile.Read(ref _keepingFreedBlocks) == 1;

    /// <summary>
    /// Between epochs: a full .NET collection, and the native heap's free pages handed back only when glibc does not
    /// keep them for the next step (<see cref="KeepsFreedBlocks"/> false, so its heap holds the holes differently
    /// shaped batches leave). Kept, the native heap stays the size of the largest step's blocks from epoch to epoch,
    /// and handing its pages back would only make the next epoch fault every one of them in again: at batch 512 on
    /// W that was thousands of faults a step through the next epoch's first steps and a fifth of its time
    /// (docs/performance.md). <see cref="Release"/> hands them back when training ends.
    /// </summary>
    public static void ReleaseBetweenEpochs()
    {
        if (KeepsFreedBlocks)
        {
            CollectManaged();
        }
        else
        {
            Release();
        }
    }

    /// <summary>
    /// A full .NET collection (finalizers included, so tensors dropped without Dispose free their native
    /// memory), then glibc's <c>malloc_trim(0)</c>, which returns the free pages of every malloc arena.
    /// Costs tens of milliseconds (docs/performance.md), and every page handed back is faulted in again when it is
    /// used: for the end of training, not for every batch or epoch.
    /// </summary>
    public static void Release()
    {
        CollectManaged();
        if (!OperatingSystem.IsLinux() || _noMallocTrim)
        {
            return;
        }

        try
        {
            MallocTrim(0);
            Interlocked.Increment(ref _handedBack);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // Not glibc (musl has no malloc_trim): nothing to hand back this way.
            _noMallocTrim = true;
        }
    }

    /// <summary>A full .NET collection, finalizers included, so tensors dropped without Dispose free their native memory.</summary>
    private static void CollectManaged()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int parameter, int value);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
