using static TorchSharp.torch;

namespace Dien.Model;

/// <summary>
/// A click-through-rate model over behaviour sequences: <c>DienModel</c> and the BaseModel and
/// DIN baselines it is compared with. Trainers, checkpoints and predictors work with this type.
/// </summary>
public abstract class CtrModel : nn.Module<DienBatch, DienOutput>
{
    /// <summary>Validates the options and keeps a private copy of them.</summary>
    /// <param name="name">The module name.</param>
    /// <param name="options">The model's options.</param>
    /// <exception cref="DienOptionsException">The options are invalid; every problem is listed.</exception>
    protected CtrModel(string name, DienOptions options)
        : base(name)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.EnsureValid();
        ModelOptions = options.Clone();
    }

    /// <summary>A copy of the options the model was built with (changing it changes nothing).</summary>
    public DienOptions Options => ModelOptions.Clone();

    /// <summary>The options the model was built with, for derived models to read (never changed).</summary>
    protected DienOptions ModelOptions { get; }
}
