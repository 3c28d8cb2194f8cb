using Dien.Model;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Architecture;

/// <summary>
/// Keeps the library's shape (docs/architecture.md): every reference between namespaces points down.
/// A namespace may use its own group and any group of a lower rank; groups of one rank are peers and
/// do not use each other (the six components, the kernel families, Training and Inference).
/// </summary>
public sealed class LayeringTests
{
    /// <summary>The library's layers, top first; a name covers its sub-namespaces.</summary>
    internal static readonly (string Namespace, int Rank)[] LibraryLayers =
    {
        ("Dien.Training", 7),
        ("Dien.Inference", 7),
        ("Dien.Diagnostics", 7),
        ("Dien.Checkpoints", 6),
        ("Dien.Model", 5),
        ("Dien.Embeddings", 4),
        ("Dien.Extractor", 4),
        ("Dien.Attention", 4),
        ("Dien.Evolution", 4),
        ("Dien.Auxiliary", 4),
        ("Dien.Head", 4),
        ("Dien.Kernels.Recurrence", 3),
        ("Dien.Kernels.Attention", 3),
        ("Dien.Kernels.NextBehaviour", 3),
        ("Dien.Kernels.Optim", 3),
        ("Dien.Kernels.Primitives", 2),
        ("Dien.Data", 1),
        ("Dien.Metrics", 1),
        ("Dien.Runtime", 0),
    };

    [Fact]
    public void Every_reference_in_the_library_points_down()
    {
        var types = typeof(DienModel).Assembly.GetTypes();
        var unplaced = types.Where(t => t.Namespace?.StartsWith("Dien", StringComparison.Ordinal) == true && LayerOf(t, LibraryLayers) is null)
            .Select(t => t.FullName).ToList();
        unplaced.Should().BeEmpty("every namespace of the library has a layer (add new ones to LibraryLayers and docs/architecture.md)");

        Violations(types, LibraryLayers).Should().BeEmpty();
    }

    [Fact]
    public void The_check_sees_a_reference_that_points_up()
    {
        // The fixture below breaks the rule on purpose, in a signature and in a method body only.
        var layers = new[] { ("Dien.Tests.Architecture.Fixture.High", 1), ("Dien.Tests.Architecture.Fixture.Low", 0) };
        var types = typeof(LayeringTests).Assembly.GetTypes().Where(t => t.Namespace?.StartsWith("Dien.Tests.Architecture.Fixture", StringComparison.Ordinal) == true);

        Violations(types, layers).Should().BeEquivalentTo(
            "Dien.Tests.Architecture.Fixture.Low.UsesHighInSignature -> Dien.Tests.Architecture.Fixture.High.Top",
            "Dien.Tests.Architecture.Fixture.Low.UsesHighInBody -> Dien.Tests.Architecture.Fixture.High.Top");
    }

    /// <summary>One line per type that references a type of a higher layer, or of a peer group of the same rank.</summary>
    internal static List<string> Violations(IEnumerable<Type> types, (string Namespace, int Rank)[] layers)
    {
        var problems = new List<string>();
        foreach (var (from, to) in LayerReferences.Of(types))
        {
            var source = LayerOf(from, layers);
            var target = LayerOf(to, layers);
            if (source is null || target is null || source.Value.Namespace == target.Value.Namespace)
            {
                continue;
            }

            if (target.Value.Rank >= source.Value.Rank)
            {
                problems.Add($"{Name(from)} -> {Name(to)}");
            }
        }

        return problems.Distinct().Order(StringComparer.Ordinal).ToList();
    }

    private static (string Namespace, int Rank)? LayerOf(Type type, (string Namespace, int Rank)[] layers)
    {
        while (type.DeclaringType is not null)
        {
            type = type.DeclaringType;
        }

        string? ns = type.Namespace;
        if (ns is null)
        {
            return null;
        }

        foreach (var layer in layers.OrderByDescending(l => l.Namespace.Length))
        {
            if (ns == layer.Namespace || ns.StartsWith(layer.Namespace + ".", StringComparison.Ordinal))
            {
                return layer;
            }
        }

        return null;
    }

    private static string Name(Type type)
    {
        while (type.DeclaringType is not null)
        {
            type = type.DeclaringType;
        }

        return type.FullName ?? type.Name;
    }
}
