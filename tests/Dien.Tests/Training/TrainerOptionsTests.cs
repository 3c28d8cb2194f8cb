using Dien.Runtime;
using Dien.Training;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Training;

public sealed class TrainerOptionsTests
{
    [Fact]
    public void Every_problem_is_reported_in_one_exception_of_the_family()
    {
        var act = () => new TrainerOptions { Epochs = 0, LearningRate = -1, PrefetchDepth = 0 }.EnsureValid();

        var thrown = act.Should().Throw<TrainerOptionsException>().Which;
        thrown.Should().BeAssignableTo<OptionsException>();
        thrown.Errors.Should().HaveCount(3);
        thrown.Message.Should().Contain("Epochs = 0").And.Contain("LearningRate = -1").And.Contain("PrefetchDepth = 0");
    }

    [Fact]
    public void The_defaults_are_valid() => new TrainerOptions().Validate().Should().BeEmpty();
}
