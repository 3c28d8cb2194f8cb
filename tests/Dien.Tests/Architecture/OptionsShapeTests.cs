using System.Collections;
using System.Reflection;
using Dien.Data;
using Dien.Data.Batching;
using Dien.Model;
using Dien.Runtime;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Architecture;

/// <summary>
/// Every public options type has one shape (docs/options.md): a sealed class, not a record, of settable
/// properties; <c>Clone()</c>; <c>Validate()</c> and <c>EnsureValid()</c>, which throws its family's
/// <see cref="OptionsException"/>. A new options type that takes another shape fails here.
/// </summary>
public sealed class OptionsShapeTests
{
    private static readonly Type[] OptionTypes = typeof(CtrModelOptions).Assembly.GetExportedTypes()
        .Where(t => t.Name.EndsWith("Options", StringComparison.Ordinal))
        .OrderBy(t => t.Name, StringComparer.Ordinal)
        .ToArray();

    [Fact]
    public void The_option_types_are_the_seven_the_guide_names()
    {
        OptionTypes.Select(t => t.Name).Should().Equal(
            "BatcherOptions", "BatchingScorerOptions", "ConversionOptions", "CtrModelOptions", "ReadOptions", "SyntheticOptions", "TrainerOptions");
    }

    [Fact]
    public void Each_is_a_sealed_class_of_settable_properties_with_clone_and_validation()
    {
        foreach (var type in OptionTypes)
        {
            type.IsClass.Should().BeTrue(type.Name);
            type.IsSealed.Should().BeTrue(type.Name);
            type.GetMethod("<Clone>$").Should().BeNull($"{type.Name} is not a record");
            type.GetConstructor(Type.EmptyTypes).Should().NotBeNull($"{type.Name} is built with an object initializer");
            // Read-only properties are derived values (CtrModelOptions.BehaviourSize); every other one is set, not init.
            var settable = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is not null).ToList();
            settable.Should().NotBeEmpty(type.Name);
            foreach (var property in settable)
            {
                property.SetMethod!.IsPublic.Should().BeTrue($"{type.Name}.{property.Name}");
                property.SetMethod.ReturnParameter.GetRequiredCustomModifiers().Should()
                    .NotContain(typeof(System.Runtime.CompilerServices.IsExternalInit), $"{type.Name}.{property.Name} is set, not init");
            }

            type.GetMethod("Clone", Type.EmptyTypes)!.ReturnType.Should().Be(type);
            if (type != typeof(ReadOptions))
            {
                type.GetMethod("Validate", Type.EmptyTypes)!.ReturnType.Should().Be(typeof(IReadOnlyList<string>), type.Name);
                type.GetMethod("EnsureValid", Type.EmptyTypes).Should().NotBeNull(type.Name);
            }
        }
    }

    [Fact]
    public void Clone_copies_every_value_into_a_new_instance()
    {
        foreach (var type in OptionTypes)
        {
            object original = Activator.CreateInstance(type)!;
            object copy = type.GetMethod("Clone", Type.EmptyTypes)!.Invoke(original, null)!;
            copy.Should().NotBeSameAs(original, type.Name);
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                object? a = property.GetValue(original), b = property.GetValue(copy);
                if (a is IEnumerable list and not string)
                {
                    b.Should().NotBeSameAs(a, $"{type.Name}.{property.Name}: a list is copied, so changing the copy's leaves the original's");
                    ((IEnumerable)b!).Cast<object>().Should().Equal(list.Cast<object>(), $"{type.Name}.{property.Name}");
                }
                else if (a is not null && a.GetType().Name.EndsWith("Options", StringComparison.Ordinal))
                {
                    b.Should().NotBeSameAs(a, $"{type.Name}.{property.Name}: nested options are copied too");
                }
                else
                {
                    b.Should().Be(a, $"{type.Name}.{property.Name}");
                }
            }
        }
    }

    [Fact]
    public void Invalid_options_throw_their_familys_options_exception_naming_the_option()
    {
        Action batcher = () => new BatcherOptions { BatchSize = 0 }.EnsureValid();
        Action scorer = () => new Dien.Inference.BatchingScorerOptions { MaxQueuedRows = 0 }.EnsureValid();
        Action conversion = () => new Dien.Data.Converters.ConversionOptions { TestUserFraction = 2 }.EnsureValid();
        Action synthetic = () => new Dien.Data.Synthetic.SyntheticOptions { Users = 0 }.EnsureValid();
        Action trainer = () => new Dien.Training.TrainerOptions { Epochs = 0 }.EnsureValid();
        batcher.Should().Throw<OptionsException>().WithMessage("*BatchSize = 0: must be at least 1.*");
        scorer.Should().Throw<OptionsException>().WithMessage("*MaxQueuedRows = 0: must be at least 1.*");
        conversion.Should().Throw<OptionsException>().WithMessage("*TestUserFraction = 2: must be in [0, 1]*");
        synthetic.Should().Throw<OptionsException>().WithMessage("*Users = 0: must be at least 1.*");
        trainer.Should().Throw<OptionsException>().WithMessage("*Epochs = 0: must be at least 1.*");
    }

    [Fact]
    public void A_batcher_keeps_the_options_it_was_given()
    {
        var options = new BatcherOptions { BatchSize = 3 };
        var batcher = new Batcher(options);
        options.BatchSize = 1;
        var samples = Enumerable.Range(1, 6).Select(u => new Sample
        {
            Label = 1, User = u, TargetItem = u, TargetCategory = 1, HistoryItems = [u], HistoryCategories = [1],
        }).ToList();

        batcher.Batches(samples).Select(b => b.Size).Should().Equal(3, 3);
    }
}
