using BenchmarkDotNet.Attributes;
using Dien.Attention;
using Dien.Auxiliary;
using Dien.Head;
using Dien.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Bench;

/// <summary>
/// BenchmarkDotNet view of the other hot parts of a W training step (the recurrences are in
/// <see cref="RecurrenceBenchmarks"/>): attention, auxiliary loss and head forward + backward on leaf inputs
/// of W's shapes (B = 128, T = 50, lengths 5..50), and one optimizer step over DIEN's parameters, fused
/// against TorchSharp's Adam. <c>workload --profile</c> times the same parts inside real W batches.
/// </summary>
[Config(typeof(ShortInProcess))]
[MemoryDiagnoser]
public class StepPartBenchmarks
{
    private readonly List<IDisposable> _owned = new();
    private Tensor _states = null!, _history = null!, _negatives = null!, _target = null!, _mask = null!, _headInput = null!;
    private MlpAttention _attention = null!;
    private NextBehaviourAuxiliaryLoss _auxiliary = null!;
    private MlpHead _head = null!;
    private DienModel _model = null!;
    private optim.Optimizer _optimizer = null!;

    /// <summary>The part: Attention, Auxiliary, Head, AdamFused or AdamTorchSharp.</summary>
    [Params("Attention", "Auxiliary", "Head", "AdamFused", "AdamTorchSharp")]
    public string Part { get; set; } = "Auxiliary";

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(2);
        torch.manual_seed(1);
        var options = new CtrModelOptions
        {
            ItemVocabularySize = 1001, CategoryVocabularySize = 51, UserVocabularySize = 2001,
            ItemEmbeddingSize = 18, CategoryEmbeddingSize = 18, UserEmbeddingSize = 18, HiddenSize = 36,
        };
        int e = options.BehaviourSize, h = options.HiddenSize;
        var rng = new Random(1);
        var lengths = Enumerable.Range(0, Workload.Batch).Select(_ => (long)rng.Next(5, Workload.Steps + 1)).ToArray();
        _mask = arange(Workload.Steps).unsqueeze(0).lt(tensor(lengths).unsqueeze(1));
        var valid = _mask.unsqueeze(-1).to_type(ScalarType.Float32);
        _states = (randn(Workload.Batch, Workload.Steps, h) * valid).requires_grad_();
        _history = (randn(Workload.Batch, Workload.Steps, e) * valid).requires_grad_();
        _negatives = (randn(Workload.Batch, Workload.Steps, e) * valid).requires_grad_();
        _target = randn(Workload.Batch, e).requires_grad_();
        _headInput = randn(Workload.Batch, options.UserEmbeddingSize + (3 * e) + h).requires_grad_();
        _attention = new MlpAttention(h, e, options.AttentionHiddenSizes);
        _auxiliary = new NextBehaviourAuxiliaryLoss(h, e, options.AuxiliaryScorer, options.AuxiliaryHiddenSizes);
        _head = new MlpHead((int)_headInput.shape[1], options.HeadHiddenSizes, options.HeadActivation, options.HeadBatchNorm, options.HeadDropout, options.HeadOutput);
        _model = new DienModel(options);
        foreach (var p in _model.parameters())
        {
            p.grad = randn_like(p) * 1e-3;
        }

        _optimizer = Part == "AdamTorchSharp"
            ? optim.Adam(_model.parameters(), 1e-3)
            : new Dien.Kernels.Optim.Adam(_model.parameters(), 1e-3);
        _owned.AddRange(new IDisposable[] { _attention, _auxiliary, _head, _model, _optimizer });
    }

    [GlobalCleanup]
    public void Cleanup() => _owned.ForEach(d => d.Dispose());

    /// <summary>Forward and backward of the part (or one optimizer step).</summary>
    [Benchmark]
    public void Run()
    {
        using var scope = NewDisposeScope();
        switch (Part)
        {
            case "Attention":
                _attention.call(_states, _target, _mask).sum().backward();
                break;
            case "Auxiliary":
                _auxiliary.call(_states, _history, _negatives, _mask).backward();
                break;
            case "Head":
                _head.call(_headInput).sum().backward();
                break;
            default:
                _optimizer.step();
                break;
        }
    }
}
