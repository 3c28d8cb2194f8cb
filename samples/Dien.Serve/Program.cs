using Dien.Runtime;
using Dien.Serve;

// dotnet run -c Release --project samples/Dien.Serve                          serve out/best.dien on http://localhost:5000
// dotnet run -c Release --project samples/Dien.Serve -- --Serve:Checkpoint x.dien --urls http://127.0.0.1:8080
// dotnet run -c Release --project samples/Dien.Serve -- load --help          the load benchmark
// Before the first TorchSharp call: shorter OpenMP spinning leaves the cores to the request threads (docs/performance.md).
OpenMpSpin.Shorten();
if (args.Length > 0 && args[0] == "load")
{
    return await LoadBenchmark.RunAsync(args[1..]);
}

try
{
    var app = ServeApp.Build(args);
    await app.RunAsync();
    return 0;
}
catch (Exception e) when (ServeApp.SettingsProblem(e) is { } problem)
{
    // A bad setting is one line naming it, and exit code 2, not an unhandled exception.
    await Console.Error.WriteLineAsync($"Dien.Serve: {problem}");
    return 2;
}

/// <summary>The entry point (public for the in-memory tests' <c>WebApplicationFactory</c>).</summary>
public partial class Program;
