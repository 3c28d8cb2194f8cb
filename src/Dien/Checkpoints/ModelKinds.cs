using System.Collections.Concurrent;
using Dien.Model;

namespace Dien.Checkpoints;

/// <summary>
/// Names model types in checkpoints and builds them back from their options. <c>DienModel</c> and <c>DinModel</c> are
/// registered under their type names, <c>SumPoolingModel</c> under <c>BaseModel</c> (the paper's name, which every
/// checkpoint written before the type's rename holds); other models register a factory once
/// (e.g. <c>ModelKinds.Register("MyModel", o => new MyModel(o))</c>). A checkpoint stores the kind.
/// </summary>
public static class ModelKinds
{
    private static readonly ConcurrentDictionary<string, Func<CtrModelOptions, CtrModel>> Factories = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<Type, string> Names = new();

    static ModelKinds()
    {
        Register(nameof(DienModel), o => new DienModel(o));
        Register("BaseModel", o => new SumPoolingModel(o)); // the kind keeps the paper's name: old files must load
        Register(nameof(DinModel), o => new DinModel(o));
    }

    /// <summary>Registers (or replaces) the factory of <typeparamref name="TModel"/> under <paramref name="kind"/>.</summary>
    /// <typeparam name="TModel">The model type.</typeparam>
    /// <param name="kind">The name stored in checkpoints.</param>
    /// <param name="factory">Builds a fresh model from options.</param>
    public static void Register<TModel>(string kind, Func<CtrModelOptions, TModel> factory)
        where TModel : CtrModel
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(kind);
        ArgumentNullException.ThrowIfNull(factory);
        Factories[kind] = o => factory(o);
        Names[typeof(TModel)] = kind;
    }

    /// <summary>The kind stored for <paramref name="model"/>: its registered name, else its type name.</summary>
    /// <param name="model">A model.</param>
    /// <returns>The kind.</returns>
    public static string KindOf(CtrModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Names.TryGetValue(model.GetType(), out var kind) ? kind : model.GetType().Name;
    }

    /// <summary>Builds a model of <paramref name="kind"/>.</summary>
    /// <param name="kind">A registered kind.</param>
    /// <param name="options">Its options.</param>
    /// <returns>A new model with fresh weights.</returns>
    /// <exception cref="ArgumentException">No factory is registered under <paramref name="kind"/>.</exception>
    public static CtrModel Create(string kind, CtrModelOptions options)
    {
        if (!Factories.TryGetValue(kind, out var factory))
        {
            throw new ArgumentException(
                $"No model kind '{kind}' is registered (known: {string.Join(", ", Factories.Keys.Order())}); call ModelKinds.Register first.", nameof(kind));
        }

        return factory(options);
    }
}
