using System.Reflection;
using System.Reflection.Emit;

namespace Dien.Tests.Architecture;

/// <summary>
/// Finds every type one assembly's types reference, by reflection: base types, interfaces, fields, properties,
/// method signatures, custom attributes and, through the IL of every method body, each type, field and method
/// a body uses (so a call, a <c>new</c> or a <c>typeof</c> counts, not only signatures).
/// </summary>
internal static class LayerReferences
{
    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    /// <summary>Every (from, to) pair of types, from one of <paramref name="types"/>, with both types distinct.</summary>
    public static IEnumerable<(Type From, Type To)> Of(IEnumerable<Type> types)
    {
        foreach (var type in types)
        {
            var seen = new HashSet<Type>();
            foreach (var referenced in ReferencedBy(type))
            {
                foreach (var part in Flatten(referenced))
                {
                    if (part != type && seen.Add(part))
                    {
                        yield return (type, part);
                    }
                }
            }
        }
    }

    private static IEnumerable<Type> ReferencedBy(Type type)
    {
        if (type.BaseType is not null)
        {
            yield return type.BaseType;
        }

        foreach (var i in type.GetInterfaces())
        {
            yield return i;
        }

        if (type.DeclaringType is not null)
        {
            yield return type.DeclaringType;
        }

        foreach (var a in type.CustomAttributes)
        {
            yield return a.AttributeType;
        }

        foreach (var field in type.GetFields(Declared))
        {
            yield return field.FieldType;
        }

        foreach (var property in type.GetProperties(Declared))
        {
            yield return property.PropertyType;
        }

        foreach (var method in type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared)))
        {
            if (method is MethodInfo info)
            {
                yield return info.ReturnType;
            }

            foreach (var parameter in method.GetParameters())
            {
                yield return parameter.ParameterType;
            }

            foreach (var used in UsedInBody(method))
            {
                yield return used;
            }
        }
    }

    /// <summary>Every method or constructor a method's IL calls (call, callvirt, newobj, ldftn), in order.</summary>
    public static IEnumerable<MethodBase> CalledBy(MethodBase method) =>
        TokensOf(method).Where(t => t.Operand == OperandType.InlineMethod).Select(t => t.Member).OfType<MethodBase>();

    /// <summary>Every method, constructor and accessor a type declares, lambdas' and iterators' nested types left to the caller.</summary>
    public static IEnumerable<MethodBase> MethodsOf(Type type) =>
        type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared));

    /// <summary>The types a method's IL names: each type token, and the declaring and signature types of each field and method token.</summary>
    private static IEnumerable<Type> UsedInBody(MethodBase method) => TokensOf(method).SelectMany(t => TypesOf(t.Member));

    /// <summary>The member each field, method, type or token operand of a method's IL resolves to, with its operand kind.</summary>
    private static IEnumerable<(OperandType Operand, MemberInfo? Member)> TokensOf(MethodBase method)
    {
        var il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null)
        {
            yield break;
        }

        var module = method.Module;
        var typeArguments = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        int at = 0;
        while (at < il.Length)
        {
            short value = il[at] == 0xFE ? (short)(0xFE00 | il[at + 1]) : il[at];
            at += il[at] == 0xFE ? 2 : 1;
            var operand = OpCodesByValue[value].OperandType;
            switch (operand)
            {
                case OperandType.InlineField:
                case OperandType.InlineMethod:
                case OperandType.InlineTok:
                case OperandType.InlineType:
                    yield return (operand, module.ResolveMember(BitConverter.ToInt32(il, at), typeArguments, methodArguments));
                    at += 4;
                    break;
                case OperandType.InlineSwitch:
                    at += 4 + (4 * BitConverter.ToInt32(il, at));
                    break;
                default:
                    at += OperandSize(operand);
                    break;
            }
        }
    }

    private static IEnumerable<Type> TypesOf(MemberInfo? member)
    {
        switch (member)
        {
            case Type t:
                yield return t;
                break;
            case FieldInfo f:
                yield return f.DeclaringType!;
                yield return f.FieldType;
                break;
            case MethodBase m:
                if (m.DeclaringType is not null)
                {
                    yield return m.DeclaringType;
                }

                if (m is MethodInfo info)
                {
                    yield return info.ReturnType;
                    foreach (var g in info.IsGenericMethod ? info.GetGenericArguments() : Type.EmptyTypes)
                    {
                        yield return g;
                    }
                }

                foreach (var p in m.GetParameters())
                {
                    yield return p.ParameterType;
                }

                break;
        }
    }

    private static int OperandSize(OperandType operand) => operand switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        _ => 4,
    };

    /// <summary>A type and what it is built from: element types of arrays, pointers and references, generic arguments, declaring types.</summary>
    private static IEnumerable<Type> Flatten(Type type)
    {
        if (type.HasElementType)
        {
            foreach (var t in Flatten(type.GetElementType()!))
            {
                yield return t;
            }

            yield break;
        }

        if (type.IsGenericParameter)
        {
            yield break;
        }

        if (type.IsGenericType && !type.IsGenericTypeDefinition)
        {
            foreach (var t in Flatten(type.GetGenericTypeDefinition()))
            {
                yield return t;
            }

            foreach (var argument in type.GetGenericArguments())
            {
                foreach (var t in Flatten(argument))
                {
                    yield return t;
                }
            }

            yield break;
        }

        yield return type;
        if (type.DeclaringType is not null)
        {
            foreach (var t in Flatten(type.DeclaringType))
            {
                yield return t;
            }
        }
    }
}
