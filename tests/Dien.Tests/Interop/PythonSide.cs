using System.Diagnostics;
using System.Text;

namespace Dien.Tests.Interop;

/// <summary>
/// Runs the PyTorch companion package (python/) as a child process: Debian's <c>/usr/bin/python3</c> with torch
/// (or <c>DIEN_PYTHON</c>), with <c>PYTHONPATH</c> set to the package. When no interpreter with torch is found the
/// interop tests skip with the reason; CI installs <c>python3-torch</c> first (.ci/run).
/// </summary>
internal static class PythonSide
{
    private static readonly Lazy<string?> Missing = new(FindProblem);

    /// <summary>The interpreter: <c>DIEN_PYTHON</c>, else <c>/usr/bin/python3</c>.</summary>
    public static string Python => Environment.GetEnvironmentVariable("DIEN_PYTHON") is { Length: > 0 } p ? p : "/usr/bin/python3";

    /// <summary><c>torchrun</c> beside the interpreter.</summary>
    public static string TorchRun => Path.Combine(Path.GetDirectoryName(Python)!, "torchrun");

    /// <summary>The package folder (python/ in the repository).</summary>
    public static string PackageFolder => Path.Combine(RepoPaths.Root, "python");

    /// <summary>Why the Python side cannot run here, or null when it can.</summary>
    public static string? Unavailable => Missing.Value;

    /// <summary>
    /// torchrun's arguments for <paramref name="processes"/> processes on this machine, then <c>-m module</c>: a
    /// rendezvous on a free port (<c>--standalone</c> always takes 29400, which another run on the machine may hold)
    /// and <c>--redirects 2 --tee 2</c> (torch 1.13's torchrun cannot parse its default "0" under Python 3.11, Debian 12's pair).
    /// </summary>
    public static IEnumerable<string> TorchRunArguments(int processes, string module)
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        int port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return new[]
        {
            "--nnodes=1", "--rdzv_backend=c10d", $"--rdzv_endpoint=localhost:{port}", $"--nproc_per_node={processes}",
            "--redirects", "2", "--tee", "2", "-m", module,
        };
    }

    /// <summary>Runs <paramref name="program"/> (python or torchrun) with arguments; returns the exit code and both streams.</summary>
    public static (int ExitCode, string Output, string Error) Run(string program, IEnumerable<string> arguments, TimeSpan? timeout = null, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = PackageFolder,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["PYTHONPATH"] = PackageFolder;
        start.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        start.Environment["OMP_NUM_THREADS"] = "1";
        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                start.Environment[key] = value;
            }
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        var output = new StringBuilder();
        var error = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (error) { error.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish in time.\n{error}");
        }

        process.WaitForExit();
        return (process.ExitCode, output.ToString(), error.ToString());
    }

    /// <summary>Runs <c>python -m module args</c> and fails the test with both streams when it does not exit with 0.</summary>
    public static string RunModule(string module, params string[] arguments)
    {
        var (code, output, error) = Run(Python, new[] { "-m", module }.Concat(arguments));
        if (code != 0)
        {
            throw new Xunit.Sdk.XunitException($"python -m {module} {string.Join(' ', arguments)} exited with {code}.\nstdout:\n{output}\nstderr:\n{error}");
        }

        return output;
    }

    /// <summary>Runs a script of python/tests and fails the test when it does not exit with 0.</summary>
    public static string RunScript(string script, params string[] arguments)
    {
        var (code, output, error) = Run(Python, new[] { Path.Combine(PackageFolder, "tests", script) }.Concat(arguments));
        if (code != 0)
        {
            throw new Xunit.Sdk.XunitException($"python {script} {string.Join(' ', arguments)} exited with {code}.\nstdout:\n{output}\nstderr:\n{error}");
        }

        return output;
    }

    private static string? FindProblem()
    {
        if (!File.Exists(Python))
        {
            return $"no Python interpreter at {Python} (install Debian's python3-torch, or set DIEN_PYTHON)";
        }

        try
        {
            var (code, _, error) = Run(Python, new[] { "-c", "import torch, torch.distributed; assert torch.distributed.is_available()" }, TimeSpan.FromMinutes(2));
            return code == 0 ? null : $"{Python} cannot import torch with torch.distributed (install Debian's python3-torch): {error.Trim().Split('\n').LastOrDefault()}";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or TimeoutException)
        {
            return $"{Python} cannot be run ({e.Message})";
        }
    }
}
