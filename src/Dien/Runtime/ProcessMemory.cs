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
    private static bool _noMallocTrim;

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

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
