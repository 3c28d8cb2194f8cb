// Types that break the layering rule on purpose, for LayeringTests.The_check_sees_a_reference_that_points_up.
namespace Dien.Tests.Architecture.Fixture.High
{
    internal sealed class Top
    {
        public static int Value => 1;

        public Dien.Tests.Architecture.Fixture.Low.Bottom Down() => new();
    }
}

namespace Dien.Tests.Architecture.Fixture.Low
{
    internal sealed class Bottom
    {
    }

    internal static class UsesHighInSignature
    {
        public static void Take(Dien.Tests.Architecture.Fixture.High.Top top) => _ = top;
    }

    internal static class UsesHighInBody
    {
        public static int Read() => Dien.Tests.Architecture.Fixture.High.Top.Value;
    }
}
