using System.Text.Json;
using System.Text.Json.Nodes;
using Dien.Attention;
using Dien.Auxiliary;
using Dien.Checkpoints;
using Dien.Data.Batching;
using Dien.Evolution;
using Dien.Head;
using Dien.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Dien.Tests.Interop;

/// <summary>
/// The PyTorch package computes what the .NET models compute: for one fixed batch per variant, in float64 and in
/// training mode, the logits, the target, auxiliary and total losses, every gradient and the state after the step
/// (BatchNorm statistics, max-norm renormalised rows) agree to 1e-9 relative, and the state-dict keys, shapes and
/// options.json values are the same. The .NET side writes one fixture file; python/tests/parity.py reads it once.
/// </summary>
[Collection("Sequential")]
public sealed class ParityTests
{
    private const double Tolerance = 1e-9;
    private readonly ITestOutputHelper _output;

    public ParityTests(ITestOutputHelper output) => _output = output;

    internal static CtrModelOptions Small(Action<CtrModelOptions>? change = null)
    {
        // Narrower MLPs than the defaults keep the fixture small; "dien-defaults-full" runs the default widths.
        // Alpha 1 (the paper's; the default is 0) so that every DIEN variant also checks the auxiliary loss.
        var o = new CtrModelOptions
        {
            ItemVocabularySize = 30, CategoryVocabularySize = 6, UserVocabularySize = 9, EmbeddingInitScale = 0.3, Alpha = 1,
            AttentionHiddenSizes = new List<int> { 16, 8 }, AuxiliaryHiddenSizes = new List<int> { 20, 10 }, HeadHiddenSizes = new List<int> { 24, 12 },
        };
        change?.Invoke(o);
        return o;
    }

    /// <summary>Every variant the options offer, each on the model kind it changes.</summary>
    internal static IEnumerable<(string Name, string Kind, CtrModelOptions Options)> Variants()
    {
        yield return ("dien-defaults-full", nameof(DienModel), new CtrModelOptions { ItemVocabularySize = 30, CategoryVocabularySize = 6, UserVocabularySize = 9 });
        yield return ("dien-defaults", nameof(DienModel), Small());
        yield return ("dien-libtorch-composition", nameof(DienModel), Small(o => o.UseFusedKernels = false));
        yield return ("dien-augru-authors-code", nameof(DienModel), Small(o => o.Evolution = EvolutionVariant.AugruAuthorsCode));
        yield return ("dien-agru", nameof(DienModel), Small(o => o.Evolution = EvolutionVariant.Agru));
        yield return ("dien-aigru", nameof(DienModel), Small(o => o.Evolution = EvolutionVariant.Aigru));
        yield return ("dien-gru", nameof(DienModel), Small(o => o.Evolution = EvolutionVariant.Gru));
        yield return ("dien-bilinear", nameof(DienModel), Small(o => o.Attention = AttentionForm.Bilinear));
        yield return ("dien-sigmoid-attention", nameof(DienModel), Small(o => o.AttentionNormalization = AttentionNormalization.Sigmoid));
        yield return ("dien-bilinear-sigmoid-fused-off", nameof(DienModel), Small(o => { o.Attention = AttentionForm.Bilinear; o.AttentionNormalization = AttentionNormalization.Sigmoid; o.UseFusedKernels = false; }));
        yield return ("dien-inner-product-scorer", nameof(DienModel), Small(o => o.AuxiliaryScorer = AuxiliaryScorer.InnerProduct));
        yield return ("dien-labelled-history", nameof(DienModel), Small(o => o.AuxiliaryLoss = AuxiliaryLossForm.LabelledHistory));
        yield return ("dien-alpha-0", nameof(DienModel), Small(o => o.Alpha = 0));
        yield return ("dien-alpha-0.5-no-hidden", nameof(DienModel), Small(o => { o.Alpha = 0.5; o.AttentionHiddenSizes = new List<int>(); o.AuxiliaryHiddenSizes = new List<int>(); }));
        yield return ("dien-dice", nameof(DienModel), Small(o => o.HeadActivation = HeadActivation.Dice));
        yield return ("dien-softmax-no-batchnorm", nameof(DienModel), Small(o => { o.HeadOutput = HeadOutput.Softmax; o.HeadBatchNorm = false; }));
        yield return ("dien-user-extras", nameof(DienModel), Small(o => { o.UseUserField = true; o.ExtraFieldVocabularySizes = new List<long> { 4, 7 }; }));
        yield return ("dien-max-norm-l2", nameof(DienModel), Small(o => { o.ItemMaxNorm = 1; o.EmbeddingL2 = 0.01; }));
        yield return ("dien-no-sum-terms-uniform", nameof(DienModel), Small(o => { o.HeadSumTerms = false; o.EmbeddingInit = global::Dien.Embeddings.EmbeddingInitialization.Uniform; }));
        yield return ("dien-widths", nameof(DienModel), Small(o => { o.ItemEmbeddingSize = 5; o.CategoryEmbeddingSize = 3; o.UserEmbeddingSize = 4; o.HiddenSize = 7; o.HeadHiddenSizes = new List<int> { 9 }; o.UseUserField = true; }));
        yield return ("din-defaults", nameof(DinModel), Small());
        yield return ("din-sigmoid-attention", nameof(DinModel), Small(o => o.AttentionNormalization = AttentionNormalization.Sigmoid));
        yield return ("din-bilinear-dice-extras", nameof(DinModel), Small(o => { o.Attention = AttentionForm.Bilinear; o.HeadActivation = HeadActivation.Dice; o.ExtraFieldVocabularySizes = new List<long> { 3 }; }));
        yield return ("din-softmax-max-norm", nameof(DinModel), Small(o => { o.HeadOutput = HeadOutput.Softmax; o.ItemMaxNorm = 0.5; o.EmbeddingL2 = 0.1; }));
        yield return ("base-defaults", "BaseModel", Small());
        yield return ("base-user-no-sum-terms", "BaseModel", Small(o => { o.UseUserField = true; o.HeadSumTerms = false; o.HeadActivation = HeadActivation.Dice; }));
    }

    /// <summary>A fixed batch over the small vocabularies: rows of length 0 .. width (one empty), padding holding junk ids.</summary>
    internal static BatchArrays FixedBatch(CtrModelOptions o, int seed = 7)
    {
        var random = new Random(seed);
        int[] lengths = { 5, 0, 1, 3, 5, 2, 4, 1 };
        int b = lengths.Length, width = 5, fields = o.ExtraFieldVocabularySizes.Count;
        long[] Ids(long size, bool history) => Enumerable.Range(0, history ? b * width : b)
            .Select(i => history && i % width >= lengths[i / width] ? 3L : random.Next(1, (int)size)).ToArray();
        return new BatchArrays
        {
            Size = b,
            Width = width,
            UserIds = Ids(o.UserVocabularySize, false),
            TargetItems = Ids(o.ItemVocabularySize, false),
            TargetCategories = Ids(o.CategoryVocabularySize, false),
            HistoryItems = Ids(o.ItemVocabularySize, true),
            HistoryCategories = Ids(o.CategoryVocabularySize, true),
            Lengths = lengths,
            Labels = Enumerable.Range(0, b).Select(i => (float)((i * 5 / 3) % 2)).ToArray(),
            NegativeItems = Ids(o.ItemVocabularySize, true),
            NegativeCategories = Ids(o.CategoryVocabularySize, true),
            HistoryLabels = Enumerable.Range(0, b * width).Select(_ => (float)random.Next(2)).ToArray(),
            ExtraFieldCount = fields,
            ExtraFields = fields == 0 ? null : Enumerable.Range(0, b * fields).Select(i => (long)random.Next(0, (int)o.ExtraFieldVocabularySizes[i % fields])).ToArray(),
        };
    }

    [SkippableFact]
    public void EveryVariantAgreesWithPyTorchInFloat64()
    {
        Skip.If(PythonSide.Unavailable is not null, PythonSide.Unavailable);
        using var folder = new TempFolder();
        var variants = new JsonArray();
        foreach (var (name, kind, options) in Variants())
        {
            torch.manual_seed(11);
            using var model = ModelKinds.Create(kind, options);
            model.to(ScalarType.Float64);
            model.train();
            var arrays = FixedBatch(options);
            var before = State(model);
            using var scope = NewDisposeScope();
            using var batch = new BehaviourBatch(arrays);
            using var output = model.call(batch);
            output.Loss!.backward();
            variants.Add(new JsonObject
            {
                ["name"] = name,
                ["kind"] = kind,
                ["options"] = JsonSerializer.Serialize(model.Options, CheckpointFormat.Json),
                ["batch"] = JsonSerializer.SerializeToNode(arrays),
                ["state_before"] = before,
                ["state_after"] = State(model),
                ["logit"] = Values(output.Logit),
                ["target_loss"] = output.TargetLoss!.item<double>(),
                ["auxiliary_loss"] = output.AuxiliaryLoss is null ? null : output.AuxiliaryLoss.item<double>(),
                ["loss"] = output.Loss.item<double>(),
                ["grads"] = new JsonObject(model.named_parameters().Select(p => KeyValuePair.Create(p.name, (JsonNode?)Named(p.parameter.grad ?? zeros_like(p.parameter))))),
            });
        }

        string fixture = Path.Combine(folder.Path, "parity.json");
        File.WriteAllText(fixture, new JsonObject { ["variants"] = variants }.ToJsonString());
        string report = Path.Combine(folder.Path, "report.json");
        PythonSide.RunScript("parity.py", fixture, report);

        var results = JsonNode.Parse(File.ReadAllText(report))!["variants"]!.AsArray();
        results.Count.Should().Be(variants.Count);
        var failures = new List<string>();
        foreach (var result in results)
        {
            string name = result!["name"]!.GetValue<string>();
            double worst = result["max_error"] is JsonNode e ? e.GetValue<double>() : double.NaN;
            string worstWhat = result["max_error_at"]!.GetValue<string>();
            _output.WriteLine($"{name,-28} max relative error {worst:E2} ({worstWhat})");
            if (result["problem"] is JsonNode problem)
            {
                failures.Add($"{name}: {problem.GetValue<string>()}");
            }
            else if (!(worst <= Tolerance))
            {
                failures.Add($"{name}: {worstWhat} differs by {worst:E3} relative (tolerance {Tolerance:E0})");
            }
        }

        failures.Should().BeEmpty();
    }

    private static JsonObject State(CtrModel model)
        => new(model.state_dict().Select(p => KeyValuePair.Create(p.Key, (JsonNode?)Named(p.Value))));

    private static JsonObject Named(Tensor t) => new()
    {
        ["shape"] = new JsonArray(t.shape.Select(d => (JsonNode?)d).ToArray()),
        ["values"] = Values(t),
    };

    private static JsonArray Values(Tensor t) => new(TestKit.Values(t).Select(v => (JsonNode?)v).ToArray());
}

/// <summary>A temporary folder removed with everything in it on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dien-interop-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Environment.GetEnvironmentVariable("DIEN_INTEROP_KEEP") == "1")
        {
            return; // for a look at the fixtures after a failure
        }

        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
