using Dien.Model;
using TorchSharp;
using static Dien.Checkpoints.CheckpointFormat;
using static TorchSharp.torch;

namespace Dien.Checkpoints;

/// <summary>
/// Puts a verified checkpoint into a model: builds the model it describes, or loads its weights and optimizer state
/// into an existing one after checking the kind and the options, putting both back as they were when a load fails.
/// </summary>
internal static class CheckpointLoader
{
    /// <summary>As <see cref="Checkpoint.LoadModel(string)"/>, from one verified read of the file (the predictor takes the typed contents from the same read).</summary>
    public static CtrModel LoadModel(VerifiedCheckpoint contents, out CheckpointContents typed)
    {
        try
        {
            typed = CheckpointReader.ContentsOf(contents);
        }
        catch (CheckpointException e)
        {
            e.Sha256 ??= contents.Sha256;
            throw;
        }

        var model = ModelKinds.Create(typed.ModelKind, typed.Options);
        try
        {
            LoadInto(contents, model, null, requireTraining: false);
        }
        catch (Exception e)
        {
            model.Dispose();
            if (e is CheckpointException refused)
            {
                refused.Sha256 ??= contents.Sha256;
            }

            throw;
        }

        model.eval();
        return model;
    }

    /// <summary>
    /// Checks everything the checkpoint holds against <paramref name="model"/> first, then loads the weights and
    /// the optimizer state; when either fails part way, both are put back as they were before the call.
    /// </summary>
    public static TrainingState? LoadInto(VerifiedCheckpoint contents, CtrModel model, optim.Optimizer? optimizer, bool requireTraining)
    {
        string path = contents.Path;
        var entries = contents.Entries;
        string kind = ModelKinds.KindOf(model);
        if (contents.Manifest.ModelKind != kind)
        {
            throw new CheckpointException(path, $"it holds a {Data.Quote.Of(contents.Manifest.ModelKind)} model, not a '{kind}'.");
        }

        var differences = CheckpointReader.OptionDifferences(CheckpointReader.OptionsOf(contents), model.Options);
        if (differences.Count > 0)
        {
            throw new CheckpointException(path, $"entry '{OptionsEntry}' differs from the model's options: {string.Join("; ", differences)}.");
        }

        var state = CheckpointReader.TrainingStateOf(contents);
        if (state is null && requireTraining)
        {
            throw new CheckpointException(path, "it holds no training state (it was written for inference only).");
        }

        byte[]? optimizerBytes = null;
        if (state is not null && optimizer is not null && !entries.TryGetValue(OptimizerEntry, out optimizerBytes))
        {
            throw new CheckpointException(path, $"it has training state but no '{OptimizerEntry}'.");
        }

        // What to put back if a load fails part way.
        var weightsBefore = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using (torch.no_grad())
        {
            foreach (var (name, tensor) in model.state_dict())
            {
                weightsBefore[name] = tensor.detach().clone().DetachFromDisposeScope();
            }
        }

        byte[]? optimizerBefore = optimizerBytes is null ? null : Bytes(w => ((TorchSharp.Modules.OptimizerHelper)optimizer!).save_state_dict(w));
        string entry = WeightsEntry;
        try
        {
            using (var reader = new BinaryReader(new MemoryStream(entries[WeightsEntry])))
            {
                model.load(reader, strict: true);
            }

            if (optimizerBytes is not null)
            {
                entry = OptimizerEntry;
                using var reader = new BinaryReader(new MemoryStream(optimizerBytes));
                ((TorchSharp.Modules.OptimizerHelper)optimizer!).load_state_dict(reader);
            }
        }
        catch (Exception e)
        {
            Restore(model, weightsBefore);
            if (optimizerBefore is not null)
            {
                using var reader = new BinaryReader(new MemoryStream(optimizerBefore));
                ((TorchSharp.Modules.OptimizerHelper)optimizer!).load_state_dict(reader);
            }

            // The underlying message may quote the entry's bytes as text: a short printable excerpt only.
            throw new CheckpointException(path, $"entry '{entry}' does not fit the {(entry == WeightsEntry ? "model" : "optimizer")} ({Excerpt(e.Message)}); nothing was changed.", e);
        }
        finally
        {
            foreach (var tensor in weightsBefore.Values)
            {
                tensor.Dispose();
            }
        }

        return state;
    }

    private static void Restore(CtrModel model, Dictionary<string, Tensor> weights)
    {
        using var noGrad = torch.no_grad();
        foreach (var (name, tensor) in model.state_dict())
        {
            if (weights.TryGetValue(name, out var before))
            {
                tensor.copy_(before); // load() checks shapes and dtypes before copying, so these still match

            }
        }
    }
}
