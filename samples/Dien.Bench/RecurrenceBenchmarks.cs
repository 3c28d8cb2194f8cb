using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;
using TorchSharp;

namespace Dien.Bench;

/// <summary>BenchmarkDotNet view of the same workload (in-process: the native libraries stay as built).</summary>
[InProcess]
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
