using Dien.Checkpoints;
using Dien.Data.Batching;
using Dien.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Inference;

/// <summary>
/// Scores with a trained model for applications: eval mode, no gradients, native memory freed per call.
/// </summary>
/// <remarks>
/// Thread-safety: every call takes one lock around the model, because TorchSharp modules make no
/// thread-safety guarantee (and <c>no_grad</c> and dispose scopes are per thread). Calls from many
/// threads are therefore safe and give the same answers as sequential calls; libtorch still uses its
/// intra-op threads inside each call of more than 64 rows (smaller ones run it on one thread, where its second thread
/// only adds a fork to each small operation). For more throughput, create one predictor per worker. The first call in a
/// process compiles the scoring code; <see cref="WarmUp"/> does that before traffic.
/// </remarks>
public sealed class CtrPredictor : IDisposable
{
    private readonly object _gate = new();
    private readonly CtrModel _model;
    private readonly bool _ownsModel;
    private readonly Device _device;
    private bool _disposed;
    private int? _maxHistoryLength;

    /// <summary>Wraps a model (put into eval mode now).</summary>
    /// <param name="model">The model.</param>
    /// <param name="ownsModel">Dispose the model with the predictor.</param>
    /// <param name="device">The model's device; CPU when null.</param>
    public CtrPredictor(CtrModel model, bool ownsModel = false, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _ownsModel = ownsModel;
        _device = device ?? CPU;
        _model.eval();
    }

    /// <summary>The model's options.</summary>
    public CtrModelOptions Options => _model.Options;

    /// <summary>
    /// The typed contents of the checkpoint this predictor was loaded from (kind, options, id maps, item categories,
    /// history cut, format version, SHA-256), from the same read as the weights; null when built from a model.
    /// </summary>
    public CheckpointContents? Contents { get; private init; }

    /// <summary>
    /// The most recent behaviours of each history that are scored; older ones are dropped, as training dropped them.
    /// </summary>
    /// <value>The default value is the checkpoint's <see cref="CheckpointData.MaxHistoryLength"/> when loaded, else null (no cut).</value>
    /// <exception cref="ArgumentOutOfRangeException">Set below 1.</exception>
    public int? MaxHistoryLength
    {
        get => _maxHistoryLength;
        init => _maxHistoryLength = value is null or >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(MaxHistoryLength), value, "must be at least 1, or null for no cut.");
    }

    /// <summary>
    /// Loads a checkpoint, building its model through <see cref="ModelKinds"/>. The file is read and verified once, and
    /// the weights and <see cref="Contents"/> come from that one read, so a trainer replacing the file meanwhile cannot
    /// mix two versions. Histories are cut to the checkpoint's <see cref="CheckpointData.MaxHistoryLength"/>.
    /// </summary>
    /// <param name="path">The checkpoint.</param>
    /// <returns>A predictor that owns its model.</returns>
    /// <exception cref="CheckpointException">The file cannot be used.</exception>
    /// <exception cref="ArgumentException">Its model kind is not registered.</exception>
    public static CtrPredictor Load(string path)
    {
        var model = CheckpointLoader.LoadModel(CheckpointReader.Open(path), out var contents);
        return new CtrPredictor(model, ownsModel: true) { Contents = contents, MaxHistoryLength = contents.Data.MaxHistoryLength };
    }

    /// <summary>
    /// Scores made-up requests (padding ids, a two-behaviour history) through both scoring paths, one candidate and
    /// <see cref="WarmUpRows"/>, and discards the scores, so that the process compiles its scoring code now instead of in
    /// the first real call. .NET compiles a method on its first call: a process's first ranking call after
    /// <see cref="Load"/> took about 0.2 s (0.18 s of it compiling some 270 methods, on 2 cores), the next ones under a
    /// millisecond. Call it after loading, before the model takes traffic; in a process that has scored before it
    /// takes a few milliseconds. The model's weights and later scores do not change.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The predictor was disposed.</exception>
    public void WarmUp()
    {
        var extraFields = new long[Options.ExtraFieldVocabularySizes.Count];
        foreach (int candidates in new[] { 1, WarmUpRows })
        {
            var request = Request(0, [0, 0], [0, 0], new long[candidates], new long[candidates], extraFields);
            ScoreRequests([request]);
            Score(CandidateRequest.ToBatch([request]));
        }
    }

    /// <summary>
    /// The larger of <see cref="WarmUp"/>'s calls: more rows than a scoring call runs libtorch on one thread for
    /// (<c>KernelWorkers.SmallInferenceRows</c>), so that the kernels' work is cut into chunks for several workers.
    /// </summary>
    internal const int WarmUpRows = Kernels.Primitives.KernelWorkers.SmallInferenceRows + 1;

    /// <summary>Click probabilities of every row of a batch (labels, if any, are ignored; each history is cut to its <see cref="MaxHistoryLength"/> most recent behaviours).</summary>
    /// <param name="batch">The batch.</param>
    /// <returns>One probability per row.</returns>
    /// <exception cref="ArgumentException">The batch is inconsistent or an id is out of the model's range.</exception>
    public float[] Score(BatchArrays batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        // Not checked here: building the BehaviourBatch below checks the arrays, and the model checks the ids (CtrModel.forward).
        batch = CandidateRequest.KeepRecent(batch, _maxHistoryLength);
        var unlabelled = new BatchArrays
        {
            Size = batch.Size,
            Width = batch.Width,
            UserIds = batch.UserIds,
            TargetItems = batch.TargetItems,
            TargetCategories = batch.TargetCategories,
            HistoryItems = batch.HistoryItems,
            HistoryCategories = batch.HistoryCategories,
            Lengths = batch.Lengths,
            ExtraFieldCount = batch.ExtraFieldCount,
            ExtraFields = batch.ExtraFields,
        };
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // Inference mode, not just no_grad: no autograd bookkeeping at all (version counters, view tracking);
            // its effect on latency is measured in docs/performance.md.
            using var inference = torch.inference_mode(true);
            using var scope = torch.NewDisposeScope();
            using var tensors = new BehaviourBatch(unlabelled, _device);
            using var output = _model.call(tensors);
            return output.Probability.to(float32).cpu().data<float>().ToArray();
        }
    }

    /// <summary>Scores candidate items for one user with one history.</summary>
    /// <param name="userId">The user.</param>
    /// <param name="historyItems">The user's behaviours, oldest first (only the last <see cref="MaxHistoryLength"/> are scored).</param>
    /// <param name="historyCategories">Their categories.</param>
    /// <param name="candidateItems">Items to score.</param>
    /// <param name="candidateCategories">Their categories.</param>
    /// <param name="extraFields">The user's extra field ids (one per field), if the model has extra fields.</param>
    /// <returns>One click probability per candidate.</returns>
    /// <exception cref="ArgumentException">Lengths differ or an id is out of range.</exception>
    public float[] ScoreCandidates(
        long userId,
        IReadOnlyList<long> historyItems,
        IReadOnlyList<long> historyCategories,
        IReadOnlyList<long> candidateItems,
        IReadOnlyList<long> candidateCategories,
        IReadOnlyList<long>? extraFields = null)
    {
        CheckRequest(historyItems, historyCategories, candidateItems, candidateCategories);

        if (candidateItems.Count == 0)
        {
            return Array.Empty<float>();
        }

        return ScoreRequests([Request(userId, historyItems, historyCategories, candidateItems, candidateCategories, extraFields)]);
    }

    /// <summary>
    /// Whether a ranking call embeds and encodes each request's history once and runs only the candidate-dependent part
    /// per candidate (for models that split, <see cref="CtrModel.ScoreCandidates"/>); false scores one row per
    /// candidate, each carrying its history, as before. The scores agree to float rounding; kept for comparisons.
    /// </summary>
    /// <value>The default value is true.</value>
    internal bool EncodeHistoryOnce { get; set; } = true;

    /// <summary>
    /// Scores requests with one shared extra-field count in one model call: each candidate against its own request's
    /// history, each history encoded once (<see cref="EncodeHistoryOnce"/>).
    /// </summary>
    /// <param name="requests">The requests, at least one, each with at least one candidate.</param>
    /// <returns>Every request's candidates' probabilities, in order.</returns>
    /// <exception cref="ArgumentException">An id is out of the model's range.</exception>
    internal float[] ScoreRequests(IReadOnlyList<CandidateRequest> requests)
    {
        if (!EncodeHistoryOnce)
        {
            return Score(CandidateRequest.ToBatch(requests));
        }

        var call = CandidateRequest.ToCandidates(requests);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var inference = torch.inference_mode(true);
            using var scope = torch.NewDisposeScope();
            using var batch = new CandidateBatch(call, _device);
            var probability = _model.ScoreCandidates(batch);
            return probability.to(float32).cpu().data<float>().ToArray();
        }
    }

    /// <summary>One request for this predictor: the lists copied, the history cut to <see cref="MaxHistoryLength"/>.</summary>
    internal CandidateRequest Request(
        long userId,
        IReadOnlyList<long> historyItems,
        IReadOnlyList<long> historyCategories,
        IReadOnlyList<long> candidateItems,
        IReadOnlyList<long> candidateCategories,
        IReadOnlyList<long>? extraFields) =>
        CandidateRequest.From(userId, historyItems, historyCategories, candidateItems, candidateCategories, extraFields, _maxHistoryLength);

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (_ownsModel)
            {
                _model.Dispose();
            }
        }
    }

    /// <summary>The checks every scoring entry point makes on one request's lists, with the same messages.</summary>
    internal static void CheckRequest(
        IReadOnlyList<long> historyItems,
        IReadOnlyList<long> historyCategories,
        IReadOnlyList<long> candidateItems,
        IReadOnlyList<long> candidateCategories)
    {
        ArgumentNullException.ThrowIfNull(historyItems);
        ArgumentNullException.ThrowIfNull(historyCategories);
        ArgumentNullException.ThrowIfNull(candidateItems);
        ArgumentNullException.ThrowIfNull(candidateCategories);
        if (historyItems.Count != historyCategories.Count)
        {
            throw new ArgumentException($"{nameof(historyCategories)} has {historyCategories.Count} entries but {nameof(historyItems)} has {historyItems.Count}.", nameof(historyCategories));
        }

        if (candidateItems.Count != candidateCategories.Count)
        {
            throw new ArgumentException($"{nameof(candidateCategories)} has {candidateCategories.Count} entries but {nameof(candidateItems)} has {candidateItems.Count}.", nameof(candidateCategories));
        }
    }
}
