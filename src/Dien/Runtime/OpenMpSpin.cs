using System.Runtime.InteropServices;

namespace Dien.Runtime;

/// <summary>
/// Shortens how long libtorch's OpenMP worker threads (GNU libgomp on Linux) spin after each parallel
/// operation before they sleep. By default they spin for about 300,000 iterations; in a DIEN training step
/// the fused recurrence kernels run on .NET threads right after libtorch operations, and on a small machine
/// the spinning workers take the cores those kernels need. What a shorter spin gains is measured in
/// docs/performance.md.
/// </summary>
/// <remarks>
/// libgomp reads <c>GOMP_SPINCOUNT</c> once, when libtorch is loaded (the first TorchSharp call), so call
/// <see cref="Shorten"/> first thing in <c>Main</c>. It only sets the process environment, and it leaves
/// alone a value the user set (<c>GOMP_SPINCOUNT</c> or <c>OMP_WAIT_POLICY</c>).
/// </remarks>
public static partial class OpenMpSpin
{
    /// <summary>The spin count <see cref="Shorten"/> uses by default.</summary>
    public const int DefaultSpinCount = 10_000;

    /// <summary>Sets <c>GOMP_SPINCOUNT</c> for libtorch's OpenMP runtime, if it is still possible and wanted.</summary>
    /// <param name="spinCount">Iterations a worker spins before it sleeps; 0 sleeps at once.</param>
    /// <returns>What happened: applied, or why not.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="spinCount"/> is negative.</exception>
    public static OpenMpSpinResult Shorten(int spinCount = DefaultSpinCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(spinCount);
        if (!OperatingSystem.IsLinux())
        {
            return OpenMpSpinResult.NotLinux;
        }

        if (Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") is not null || Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null)
        {
            return OpenMpSpinResult.AlreadySet;
        }

        if (OpenMpLoaded())
        {
            return OpenMpSpinResult.TooLate;
        }

        string value = spinCount.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // The native environment (what libgomp's getenv sees); Environment.SetEnvironmentVariable alone
        // changes only .NET's copy on Unix.
        try
        {
            if (SetEnv("GOMP_SPINCOUNT", value, 1) != 0)
            {
                return OpenMpSpinResult.Failed;
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return OpenMpSpinResult.Failed;
        }

        Environment.SetEnvironmentVariable("GOMP_SPINCOUNT", value);
        return OpenMpSpinResult.Applied;
    }

    /// <summary>Whether libgomp is already mapped into this process (then it has read its environment).</summary>
    private static bool OpenMpLoaded()
    {
        const string maps = "/proc/self/maps";
        return File.Exists(maps) && File.ReadLines(maps).Any(line => line.Contains("libgomp", StringComparison.Ordinal));
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
