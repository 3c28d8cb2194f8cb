using Dien.Runtime;
using FluentAssertions;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Runtime;

public class OpenMpSpinTests
{
    [Fact]
    public void ANegativeSpinCountIsRejected()
    {
        var act = () => OpenMpSpin.Shorten(-1);
        act.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("spinCount");
    }

    [Fact]
    public void AfterLibtorchHasLoadedItChangesNothingAndSaysWhy()
    {
        // libgomp has read its environment once libtorch is loaded: setting the variable now would be a lie.
        using (var t = ones(4).sum())
        {
            t.item<float>().Should().Be(4);
        }

        string? before = Environment.GetEnvironmentVariable("GOMP_SPINCOUNT");
        var result = OpenMpSpin.Shorten();

        Environment.GetEnvironmentVariable("GOMP_SPINCOUNT").Should().Be(before);
        if (!OperatingSystem.IsLinux())
        {
            result.Should().Be(OpenMpSpinResult.NotLinux);
        }
        else if (before is not null || Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null)
        {
            result.Should().Be(OpenMpSpinResult.AlreadySet);
        }
        else
        {
            result.Should().Be(OpenMpSpinResult.TooLate);
        }
    }
}
