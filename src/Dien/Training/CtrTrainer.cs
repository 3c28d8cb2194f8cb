using System.Diagnostics;
using Dien.Checkpoints;
using Dien.Data.Batching;
using Dien.Kernels.Primitives;
using Dien.Metrics;
using Dien.Model;
using Dien.Runtime;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Dien.Training;

/// <summary>
/// Trains a <see cref="CtrModel"/> with Adam: per-epoch evaluation (AUC, GAUC, log loss) on validation data,
/// early stopping, restoring the best epoch's weights, best/last checkpoints, progress, cancellation, and
/// resumption from a checkpoint.
/// </summary>
/// <remarks>
/// <para>
/// Model selection: pass held-out validation batches to <see cref="Fit"/> (for example the users
/// <see cref="Data.ValidationSplit.ByUser"/> holds out), never the test file. After <see cref="Fit"/> the model
/// holds the best validation epoch's weights (<see cref="TrainerOptions.RestoreBestWeights"/>); score the test
/// file once, then, with <see cref="Evaluate"/>.
/// </para>
/// The log messages count epochs from 1, as a reader does; <see cref="EpochSummary.Epoch"/> and
/// <see cref="TrainingResult"/> count from 0.
/// Not thread-safe: one <see cref="Fit"/> at a time. The trainer does not own the model.
/// Determinism: epoch e reseeds torch with <see cref="TrainerOptions.Seed"/> + e, so two CPU runs with one
/// seed, and a run resumed from an epoch-end checkpoint, repeat each other exactly.
/// </remarks>
public sealed class CtrTrainer : IDisposable
{
    private readonly CtrModel _model;
    private readonly TrainerOptions _options;
    private readonly ILogger _logger;
    private readonly Device _device;
    private readonly TorchSharp.Modules.Adam _optimizer;

    // The best epoch so far, patience, and the copy of the best weights.
    private readonly BestEpochTracker _best;

    // Where a cancelled epoch stopped (batches taken, their loss sum and samples, torch's generator state), so that the
    // next Fit, or a trainer resumed from the checkpoint written on cancellation, continues inside that epoch.
    private PartialEpoch? _partial;

    /// <summary>Creates a trainer; the model must already be on <paramref name="device"/> (the optimizer binds its parameters now).</summary>
    /// <param name="model">The model to train.</param>
    /// <param name="options">Training options (validated here).</param>
    /// <param name="logger">Receives one line per epoch; none when null.</param>
    /// <param name="device">Where batches are built; CPU when null.</param>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public CtrTrainer(CtrModel model, TrainerOptions options, ILogger? logger = null, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.EnsureValid();
        _model = model;
        _options = options.Clone(); // the run keeps the options it started with
        _logger = logger ?? NullLogger.Instance;
        _device = device ?? CPU;
        // The fused update is one of the fused kernels: CtrModelOptions.UseFusedKernels = false switches it off with the rest.
        _optimizer = model.Options.UseFusedKernels
            ? new Kernels.Optim.Adam(model.parameters(), options.LearningRate, options.WeightDecay)
            : torch.optim.Adam(model.parameters(), options.LearningRate, weight_decay: options.WeightDecay);
        _best = new BestEpochTracker(model, options, _logger);
    }

    /// <summary>Epochs completed so far (including those restored from a checkpoint); the next <see cref="Fit"/> starts here.</summary>
    public int CompletedEpochs { get; private set; }

    /// <summary>The model being trained.</summary>
    public CtrModel Model => _model;

    /// <summary>
    /// What every checkpoint this trainer writes records about the data: the id maps, each item's category and the
    /// history cut training used (<see cref="CheckpointData.MaxHistoryLength"/>, which the predictor applies when serving).
    /// </summary>
    /// <value>The default value is null: no maps and no cut are stored; <see cref="LoadCheckpoint"/> takes the checkpoint's.</value>
    public CheckpointData? Data { get; set; }

    /// <summary>Trains from <see cref="CompletedEpochs"/> up to <see cref="TrainerOptions.Epochs"/>.</summary>
    /// <param name="trainingBatches">The training batches of an epoch (the data layer shuffles by epoch, seeded).</param>
    /// <param name="validationBatches">The validation batches, evaluated after each epoch; null to skip evaluation.</param>
    /// <param name="progress">Receives <see cref="TrainingProgress"/>; may be null.</param>
    /// <param name="cancellationToken">Stops training after the current batch. The model then keeps the weights of that
    /// batch (the best weights are not restored), <see cref="TrainerOptions.LastCheckpointPath"/> (when set) is written with
    /// them and with how far the epoch got, and a further <see cref="Fit"/>, or a trainer resumed from that checkpoint,
    /// continues with the next batch of the same epoch, giving the same weights as a run never cancelled.</param>
    /// <returns>Per-epoch summaries and how training ended.</returns>
    /// <remarks>
    /// With <see cref="TrainerOptions.RestoreBestWeights"/> the model ends with the best epoch's weights while the
    /// optimizer and <see cref="CompletedEpochs"/> stay at the last epoch: a further <see cref="Fit"/> on this trainer
    /// continues from the best weights. To continue exactly where training stopped, resume from
    /// <see cref="TrainerOptions.LastCheckpointPath"/> (written before the weights are restored, and on cancellation).
    /// </remarks>
    /// <exception cref="InvalidOperationException">A batch's loss is NaN or infinite; training stops before that step.</exception>
    public TrainingResult Fit(
        Func<int, IEnumerable<BatchArrays>> trainingBatches,
        Func<IEnumerable<BatchArrays>>? validationBatches = null,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(trainingBatches);
        if (_options.KeepFreedMemoryWithinEpochs)
        {
            ProcessMemory.KeepFreedBlocks();
        }

        try
        {
            return FitEpochs(trainingBatches, validationBatches, progress, cancellationToken);
        }
        finally
        {
            // The native heap's blocks were kept from epoch to epoch for the next step; training is over, so they go back.
            if (_options.ReleaseMemoryBetweenEpochs)
            {
                ProcessMemory.Release();
            }
        }
    }

    private TrainingResult FitEpochs(
        Func<int, IEnumerable<BatchArrays>> trainingBatches,
        Func<IEnumerable<BatchArrays>>? validationBatches,
        IProgress<TrainingProgress>? progress,
        CancellationToken cancellationToken)
    {
        var summaries = new List<EpochSummary>();
        bool stoppedEarly = false;
        bool cancelled = false;
        for (int epoch = CompletedEpochs; epoch < _options.Epochs; epoch++)
        {
            double learningRate = _options.LearningRate * Math.Pow(_options.LearningRateDecayPerEpoch, epoch);
            foreach (var group in _optimizer.ParamGroups)
            {
                group.LearningRate = learningRate;
            }

            torch.manual_seed(_options.Seed + epoch);
            var start = _partial is { } partial && epoch == CompletedEpochs ? partial : null;
            _partial = null;
            if (start?.GeneratorState is { } generatorState)
            {
                using var state = torch.tensor(generatorState);
                torch.Generator.Default.set_state(state);
            }

            var (loss, completed) = TrainEpoch(epoch, trainingBatches(epoch), start, progress, cancellationToken);
            if (!completed)
            {
                // The epoch is not counted; where it stopped is kept, and written with the last checkpoint.
                cancelled = true;
                _logger.LogInformation("Training cancelled during epoch {Epoch} after batch {Batch}.", epoch + 1, _partial!.Batches);
                if (_options.LastCheckpointPath is { } lastOnCancel)
                {
                    SaveCheckpoint(lastOnCancel);
                }

                break;
            }

            CompletedEpochs = epoch + 1;
            ReleaseMemory();
            EvaluationResult? validation = null;
            if (validationBatches is not null)
            {
                validation = Evaluate(validationBatches());
                ReleaseMemory();
            }

            summaries.Add(new EpochSummary(epoch, loss, learningRate, validation));
            _logger.LogInformation(
                "Epoch {Epoch}: loss {Loss:F5}, lr {LearningRate:G3}, AUC {Auc:F5}, GAUC {Gauc:F5}, log loss {LogLoss:F5}",
                epoch + 1, loss, learningRate, validation?.Auc ?? double.NaN, validation?.GroupAuc ?? double.NaN, validation?.LogLoss ?? double.NaN);

            if (validation is not null && _best.Record(epoch, validation.Get(_options.MonitorMetric)) && _options.BestCheckpointPath is { } best)
            {
                SaveCheckpoint(best);
            }

            if (_options.LastCheckpointPath is { } last)
            {
                SaveCheckpoint(last);
            }

            if (_best.ShouldStop)
            {
                stoppedEarly = true;
                _logger.LogInformation("Early stop after epoch {Epoch}: {Metric} has not improved for {Patience} epochs.", epoch + 1, _options.MonitorMetric, _options.Patience);
                break;
            }
        }

        bool restored = !cancelled && _best.RestoreBestWeights(CompletedEpochs);
        return new TrainingResult(summaries, _best.BestEpoch, _best.BestMetric, stoppedEarly, cancelled, restored);
    }

    /// <summary>
    /// Scores <paramref name="batches"/> in eval mode without gradients (the model returns to train mode after).
    /// After <see cref="Fit"/> this scores the restored best model (<see cref="TrainerOptions.RestoreBestWeights"/>):
    /// the way to score the test file once, at the end.
    /// </summary>
    /// <param name="batches">Labelled batches.</param>
    /// <returns>AUC, GAUC and log loss over all rows.</returns>
    /// <exception cref="ArgumentException">A batch has no labels.</exception>
    public EvaluationResult Evaluate(IEnumerable<BatchArrays> batches) => Evaluator.Evaluate(_model, batches, _device, _options.PrefetchDepth);

    /// <summary>
    /// Writes a checkpoint with the model, its options, <see cref="Data"/> and the training state (atomically).
    /// After <see cref="Fit"/> restored the best weights, these are what it writes, with the training state of the last epoch.
    /// </summary>
    /// <param name="path">The checkpoint file.</param>
    public void SaveCheckpoint(string path)
    {
        var state = new TrainingState
        {
            CompletedEpochs = CompletedEpochs,
            BestEpoch = _best.BestEpoch,
            BestMetric = _best.BestMetric,
            EpochsWithoutImprovement = _best.EpochsWithoutImprovement,
            Seed = _options.Seed,
            MonitorMetric = _options.MonitorMetric,
            BatchesIntoEpoch = _partial?.Batches ?? 0,
            PartialLossSum = _partial?.LossSum ?? 0,
            PartialSamples = _partial?.Samples ?? 0,
            GeneratorState = _partial?.GeneratorState,
        };
        CheckpointWriter.Write(path, _model, Data, state, _optimizer);
    }

    /// <summary>Restores weights, optimizer moments and training state from a checkpoint written by <see cref="SaveCheckpoint"/>; <see cref="Fit"/> then continues after its last epoch.</summary>
    /// <param name="path">The checkpoint file.</param>
    /// <remarks>The file is read once and checked whole before anything changes: when it cannot be used, the model, the
    /// optimizer and this trainer are left exactly as they were.</remarks>
    /// <exception cref="CheckpointException">The file is missing, truncated, damaged, of another format version, for other
    /// options, or has no training state; the message names the file, the entry and the reason.</exception>
    public void LoadCheckpoint(string path)
    {
        var contents = CheckpointReader.Open(path);
        var data = Data is null ? CheckpointReader.ContentsOf(contents).Data : null;
        var state = CheckpointLoader.LoadInto(contents, _model, _optimizer, requireTraining: true)!;
        CompletedEpochs = state.CompletedEpochs;
        _partial = state.BatchesIntoEpoch > 0 ? new PartialEpoch(state.BatchesIntoEpoch, state.PartialLossSum, state.PartialSamples, state.GeneratorState) : null;
        _best.Resume(state); // the best weights held belonged to the run before the checkpoint
        if (state.Seed != _options.Seed)
        {
            _logger.LogWarning("Checkpoint {Path} was trained with seed {Stored}, this trainer uses {Seed}: the resumed run will not repeat the original.", path, state.Seed, _options.Seed);
        }
        Data ??= data;
    }

    /// <summary>Frees the optimizer's state and the in-memory copy of the best weights; the model is not disposed.</summary>
    public void Dispose()
    {
        _best.Dispose();
        _optimizer.Dispose();
    }

    /// <summary>Around evaluation: the .NET heap's garbage, and the native heap's holes unless its blocks are kept for the next epoch's steps.</summary>
    private void ReleaseMemory()
    {
        if (_options.ReleaseMemoryBetweenEpochs)
        {
            ProcessMemory.ReleaseBetweenEpochs();
        }
    }

    private (double Loss, bool Completed) TrainEpoch(
        int epoch, IEnumerable<BatchArrays> source, PartialEpoch? start, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        // Each step reads its loss after the backward (CtrOutput.CompleteDeferred), so the model may leave a fused
        // auxiliary loss running into it.
        _model.DefersAuxiliaryLoss = true;
        try
        {
            return TrainSteps(epoch, source, start, progress, cancellationToken);
        }
        finally
        {
            _model.DefersAuxiliaryLoss = false;
        }
    }

    private (double Loss, bool Completed) TrainSteps(
        int epoch, IEnumerable<BatchArrays> source, PartialEpoch? start, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        _model.train();
        var clock = Stopwatch.StartNew();
        double lossSum = start?.LossSum ?? 0;
        long samples = start?.Samples ?? 0;
        int index = start?.Batches ?? 0;
        using var prefetcher = new BatchPrefetcher(index == 0 ? source : source.Skip(index), _device, _options.PrefetchDepth);
        // Read once an epoch: it looks at the parameters' device and dtype.
        bool kernelsOnly = _model.TrainsOnFusedKernels;
        foreach (var batch in prefetcher.Batches())
        {
            using (batch)
            // The step's heavy work is in the fused kernels: at up to 256 rows libtorch's OpenMP threads would only
            // spin on their cores.
            using (kernelsOnly ? KernelWorkers.KernelsOnly(batch.Size) : default)
            {
                if (batch.Labels is null)
                {
                    throw new ArgumentException($"Training batch {index} of epoch {epoch} has no labels.", nameof(source));
                }

                using var scope = torch.NewDisposeScope();
                _optimizer.zero_grad();
                using var output = _model.call(batch);
                var loss = output.Loss ?? throw new InvalidOperationException($"{_model.GetType().Name} returned no loss for a labelled batch.");
                // The auxiliary loss may still be running (CtrModel.DefersAuxiliaryLoss): the backward waits for it, and
                // the loss has its value only after that.
                loss.backward();
                output.CompleteDeferred();
                float value = loss.item<float>();
                if (!float.IsFinite(value))
                {
                    // Stop before the step, so the weights (and the last checkpoint) stay as they were.
                    throw new InvalidOperationException(
                        $"The loss is {value} at epoch {epoch}, batch {index}; no step was taken. Lower the learning rate, clip gradients, or check the batch's inputs.");
                }

                if (_options.GradientClipNorm is { } clip)
                {
                    nn.utils.clip_grad_norm_(_model.parameters(), clip);
                }

                _optimizer.step();
                lossSum += value * batch.Size;
                samples += batch.Size;
            }

            if (progress is not null && index % _options.ProgressInterval == 0)
            {
                progress.Report(new TrainingProgress(epoch, index, samples, lossSum / Math.Max(1, samples), samples / Math.Max(1e-9, clock.Elapsed.TotalSeconds)));
            }

            index++;
            if (cancellationToken.IsCancellationRequested)
            {
                using var generator = torch.Generator.Default.get_state();
                _partial = new PartialEpoch(index, lossSum, samples, generator.data<byte>().ToArray());
                return (lossSum / Math.Max(1, samples), false);
            }
        }

        return (samples == 0 ? double.NaN : lossSum / samples, true);
    }

    /// <summary>How far a cancelled epoch got.</summary>
    private sealed record PartialEpoch(int Batches, double LossSum, long Samples, byte[]? GeneratorState);
}
