using Dien.Data.Batching;
using Dien.Data.Converters;
using Dien.Data.Synthetic;

namespace Dien.Tests;

/// <summary>A changed copy of an options object in one expression, as the tests vary one option at a time.</summary>
internal static class OptionsCopy
{
    public static BatcherOptions With(this BatcherOptions options, Action<BatcherOptions> change) => Changed(options.Clone(), change);

    public static ConversionOptions With(this ConversionOptions options, Action<ConversionOptions> change) => Changed(options.Clone(), change);

    public static SyntheticOptions With(this SyntheticOptions options, Action<SyntheticOptions> change) => Changed(options.Clone(), change);

    private static T Changed<T>(T copy, Action<T> change)
    {
        change(copy);
        return copy;
    }
}
