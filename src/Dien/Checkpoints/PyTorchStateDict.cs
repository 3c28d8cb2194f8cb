using Dien.Model;
using Dien.Runtime;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Dien.Checkpoints;

/// <summary>
/// Exchanges a model's weights with PyTorch as a state dict file (<c>torch.save(model.state_dict())</c> layout:
/// a zip with <c>&lt;name&gt;/data.pkl</c>, <c>&lt;name&gt;/data/0</c>, ..., <c>&lt;name&gt;/version</c>), keyed by the
/// model's state-dict names. Uses TorchSharp.PyBridge.
/// </summary>
public static class PyTorchStateDict
{
    /// <summary>Writes the model's parameters and buffers as a PyTorch state dict (<c>torch.load(path)</c> reads it).</summary>
    /// <param name="model">The model.</param>
    /// <param name="path">The <c>.pt</c> file to write.</param>
    public static void Export(CtrModel model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        model.save_py(path);
    }

    /// <summary>Loads a PyTorch state dict into the model; every key must match (names and shapes).</summary>
    /// <param name="model">A model built with the options the weights were trained with.</param>
    /// <param name="path">A file written by <c>torch.save(model.state_dict(), path)</c> or <see cref="Export"/>.</param>
    /// <exception cref="CheckpointException">The file is missing, unreadable, or its keys, shapes or dtypes differ from the model's (the model is then unchanged).</exception>
    public static void Import(CtrModel model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new CheckpointException(path, "the file does not exist.");
        }

        System.Collections.Hashtable loaded;
        try
        {
            loaded = PyTorchUnpickler.UnpickleStateDict(path);
        }
        catch (Exception e)
        {
            throw new CheckpointException(path, $"it is not a readable PyTorch state dict ({e.Message}).", e);
        }

        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in loaded)
        {
            if (entry.Key is string key && entry.Value is Tensor tensor)
            {
                tensors[key] = tensor;
            }
        }

        try
        {
            // Check every key, shape and dtype before copying anything, so a bad file leaves the model untouched
            // (PyBridge's own load_py does not reject shape mismatches).
            var own = model.state_dict();
            var missing = own.Keys.Where(k => !tensors.ContainsKey(k)).ToList();
            var unexpected = tensors.Keys.Where(k => !own.ContainsKey(k)).ToList();
            if (missing.Count > 0 || unexpected.Count > 0)
            {
                throw new CheckpointException(path, $"its keys differ from the model's (missing: [{string.Join(", ", missing)}]; unexpected: [{string.Join(", ", unexpected)}]).");
            }

            foreach (var (key, target) in own)
            {
                var source = tensors[key];
                if (!source.shape.SequenceEqual(target.shape) || source.dtype != target.dtype)
                {
                    throw new CheckpointException(path,
                        $"'{key}' is {source.dtype} {Guard.ShapeOf(source)} in the file but {target.dtype} {Guard.ShapeOf(target)} in the model.");
                }
            }

            using var noGrad = torch.no_grad();
            foreach (var (key, target) in own)
            {
                target.copy_(tensors[key]);
            }
        }
        finally
        {
            foreach (var tensor in tensors.Values)
            {
                tensor.Dispose();
            }
        }
    }
}
