using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using TorchSharp;

namespace Dien.Bench;

/// <summary>BenchmarkDotNet view of the same workload (in-process: the native libraries stay as built).</summary>
[Config(typeof(ShortInProcess))]
[MemoryDiagnoser]
public class RecurrenceBenchmarks
{
    private Workload? _workload;

    /// <summary>libtorch intra-op threads; the fused kernels follow the same setting.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>The implementation (see <c>Implementation</c>).</summary>
    [Params("BuiltInGru", "GruLoop", "GruFused", "AugruLoop", "AugruFused")]
    public string Implementation { get; set; } = "GruFused";

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Threads);
        _workload = new Workload();
    }

    [GlobalCleanup]
    public void Cleanup() => _workload?.Dispose();

    /// <summary>Forward, loss, backward.</summary>
    [Benchmark]
    public void ForwardBackward() => _workload!.ForwardBackward(Enum.Parse<Implementation>(Implementation));

    /// <summary>Forward under no_grad.</summary>
    [Benchmark]
    public void ForwardOnly() => _workload!.ForwardOnly(Enum.Parse<Implementation>(Implementation));
}

/// <summary>A short run in this process: 20 cases on a shared 2-core machine must finish in minutes.</summary>
internal sealed class ShortInProcess : ManualConfig
{
    public ShortInProcess()
    {
        AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance));
        ArtifactsPath = Path.Combine(Path.GetTempPath(), "Dien.Bench.Artifacts");
    }
}
