using System.Reflection;
using Dien.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Architecture;

/// <summary>
/// The library never hands libtorch a scalar that only its finalizer frees. TorchSharp passes a scalar's handle
/// to the native call without keeping the managed object alive, so a collection during the call can free a
/// temporary scalar while libtorch reads it (a Beauty training run failed in <c>loss + penalty</c> with
/// "Expected false to be true ... toFloat"). Numbers turned into scalars on the spot, and TorchSharp's
/// tensor +, - and one-argument add/sub (which pass a temporary 1 as alpha), are therefore not used; the
/// library passes scalars it holds (<c>Runtime/HeldScalars</c>) instead.
/// </summary>
public sealed class HeldScalarTests
{
    [Fact]
    public void No_library_method_passes_a_temporary_scalar_to_libtorch()
    {
        var offenders = Offenders(typeof(DienModel).Assembly.GetTypes());
        offenders.Should().BeEmpty(string.Join("; ", offenders));
    }

    [Fact]
    public void The_check_sees_each_kind_of_temporary_scalar()
    {
        Offenders([typeof(Fixture)]).Should().BeEquivalentTo(
            "Fixture.Plus calls Tensor.op_Addition",
            "Fixture.OneMinus calls Tensor.op_Subtraction",
            "Fixture.Half calls Tensor.op_Multiply",
            "Fixture.Add calls Tensor.add");
    }

    /// <summary>One line per method of the given types that calls a member which makes a temporary scalar.</summary>
    private static List<string> Offenders(IEnumerable<Type> types) =>
        types.SelectMany(LayerReferences.MethodsOf)
            .SelectMany(m => LayerReferences.CalledBy(m).Where(MakesTemporaryScalar).Select(c => $"{Name(m.DeclaringType!)}.{m.Name} calls {c.DeclaringType!.Name}.{c.Name}"))
            .Distinct()
            .ToList();

    private static bool MakesTemporaryScalar(MethodBase called)
    {
        if (called.DeclaringType == typeof(Scalar) && called.Name == "op_Implicit")
        {
            return true;
        }

        if (called.DeclaringType != typeof(Tensor))
        {
            return false;
        }

        var parameters = called.GetParameters();
        return called.Name switch
        {
            // Tensor + Tensor and Tensor - Tensor call add/sub(target, 1); an operator taking a number turns it into a scalar.
            "op_Addition" or "op_Subtraction" => true,
            _ when called.Name.StartsWith("op_", StringComparison.Ordinal) => parameters.Any(p => p.ParameterType.IsPrimitive),
            "add" or "add_" or "sub" or "sub_" => parameters.Length == 1,
            _ => false,
        };
    }

    private static string Name(Type type) => type.DeclaringType is { } outer && type.Name.StartsWith('<') ? Name(outer) : type.Name;

    /// <summary>Breaks the rule once in each way, for the check above.</summary>
    private static class Fixture
    {
        public static Tensor Plus(Tensor a, Tensor b) => a + b;

        public static Tensor OneMinus(Tensor a) => 1 - a;

        public static Tensor Half(Tensor a) => a * 0.5;

        public static Tensor Add(Tensor a, Tensor b) => a.add(b);
    }
}
