using Dien.Runtime;
using FluentAssertions;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Runtime;

/// <summary>Guard's checks on the hot path: messages are built only for a failing check.</summary>
public class GuardTests
{
    [Fact]
    public void A_holding_check_never_formats_its_message()
    {
        int formatted = 0;
        string Count() => (++formatted).ToString(System.Globalization.CultureInfo.InvariantCulture);

        Guard.That(true, $"value {Count()} is wrong", "value");
        formatted.Should().Be(0, "the holes of a message are not evaluated while the check holds");

        var failing = () => Guard.That(false, $"value {Count()} is wrong", "value");
        failing.Should().Throw<ArgumentException>().WithMessage("value 1 is wrong*").WithParameterName("value");
        formatted.Should().Be(1);
    }

    [Fact]
    public void A_packed_route_that_cannot_run_names_the_tensor_and_the_switch()
    {
        using var states = zeros(3, 4, ScalarType.Int32);
        var act = () => Guard.PackedRoute(false, states, useFusedKernels: false);
        act.Should().Throw<ArgumentException>()
            .WithMessage("states is packed (Int32 [3, 4] on cpu), which only the fused CPU kernel reads (Float32 or Float64, fused kernels on; they are off).*")
            .WithParameterName("states");
        FluentActions.Invoking(() => Guard.PackedRoute(true, states, useFusedKernels: true)).Should().NotThrow();
    }
}
