using Dien.Model;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Architecture;

/// <summary>
/// Keeps the library's shape (docs/architecture.md): every reference between namespaces points down.
/// The rules are the doc's layering table (<see cref="LayeringTable"/>): a namespace may use its own types and
/// those of the ranks its row allows, always lower ones; namespaces of one rank are peers and do not use each
/// other (the six components, the kernel families, Training and Inference).
/// </summary>
public sealed class LayeringTests
{
    /// <summary>The library's layers, read from the doc's table; a name covers its sub-namespaces.</summary>
    private static readonly Lazy<IReadOnlyList<LayeringTable.Layer>> LibraryLayers = new(LayeringTable.Read);

    [Fact]
    public void Every_reference_in_the_library_points_down()
    {
        var types = typeof(DienModel).Assembly.GetTypes();
        var layers = LibraryLayers.Value;
        var unplaced = types.Where(t => t.Namespace?.StartsWith("Dien", StringComparison.Ordinal) == true && LayerOf(t, layers) is null)
            .Select(t => t.FullName).ToList();
        unplaced.Should().BeEmpty($"every namespace of the library has a row in the layering table of {LayeringTable.DocPath}");

        var namespaces = types.Select(t => t.Namespace).OfType<string>().Distinct().ToList();
        var stale = layers.Where(l => !namespaces.Exists(ns => ns == l.Namespace || ns.StartsWith(l.Namespace + ".", StringComparison.Ordinal)))
            .Select(l => l.Namespace).ToList();
        stale.Should().BeEmpty($"every row of the layering table of {LayeringTable.DocPath} names a namespace of the library");

        Violations(types, layers).Should().BeEmpty();
    }

    [Fact]
    public void The_check_sees_a_reference_that_points_up()
    {
        // The fixture below breaks the rule on purpose, in a signature and in a method body only.
        var layers = new[]
        {
            new LayeringTable.Layer("Dien.Tests.Architecture.Fixture.High", 1, 0),
            new LayeringTable.Layer("Dien.Tests.Architecture.Fixture.Low", 0, -1),
        };
        var types = typeof(LayeringTests).Assembly.GetTypes().Where(t => t.Namespace?.StartsWith("Dien.Tests.Architecture.Fixture", StringComparison.Ordinal) == true);

        Violations(types, layers).Should().BeEquivalentTo(
            "Dien.Tests.Architecture.Fixture.Low.UsesHighInSignature -> Dien.Tests.Architecture.Fixture.High.Top",
            "Dien.Tests.Architecture.Fixture.Low.UsesHighInBody -> Dien.Tests.Architecture.Fixture.High.Top");
    }

    /// <summary>One line per type that references a type of a rank its layer may not use: a higher one, or a peer of the same rank.</summary>
    internal static List<string> Violations(IEnumerable<Type> types, IReadOnlyList<LayeringTable.Layer> layers)
    {
        var problems = new List<string>();
        foreach (var (from, to) in LayerReferences.Of(types))
        {
            var source = LayerOf(from, layers);
            var target = LayerOf(to, layers);
            if (source is null || target is null || source.Namespace == target.Namespace)
            {
                continue;
            }

            if (target.Rank > source.MayUseUpTo || target.Rank >= source.Rank)
            {
                problems.Add($"{Name(from)} -> {Name(to)}");
            }
        }

        return problems.Distinct().Order(StringComparer.Ordinal).ToList();
    }

    private static LayeringTable.Layer? LayerOf(Type type, IReadOnlyList<LayeringTable.Layer> layers)
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
