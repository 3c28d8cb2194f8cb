using Dien.Checkpoints;
using Dien.Data.Batching;
using Dien.Head;
using Dien.Model;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static Dien.Tests.Model.ModelTestKit;
using static Dien.Tests.TestKit;
using static TorchSharp.torch;

namespace Dien.Tests.Model;

/// <summary>Save/load round trips, train/eval switching and memory across training steps of the full models.</summary>
[Collection("Sequential")]
public sealed class ModelLifecycleTests
{
    public static TheoryData<string> Models => ModelTestKit.Kinds;

    [Theory]
    [MemberData(nameof(Models))]
    public void SaveAndLoadRoundTripGivesTheSameScores(string name)
    {
        var options = TinyOptions();
        options.HeadActivation = HeadActivation.Dice;
        string path = Path.Combine(Path.GetTempPath(), $"dien-{name}-{Guid.NewGuid():N}.bin");
        try
        {
            using var scope = NewDisposeScope();
            manual_seed(21);
            using var model = ModelKinds.Create(name, options);
            using var batch = new BehaviourBatch(Arrays(new[] { 3, 1, 0, 2 }, 3, seed: 8));

            // One training step so that the running statistics differ from their initial values.
            model.train();
            model.call(batch).Loss!.backward();
            model.eval();
            model.training.Should().BeFalse();
            var expected = Values(model.call(batch).Logit);
            model.save(path);

            manual_seed(99);
            using var loaded = ModelKinds.Create(name, options);
            loaded.load(path);
            loaded.eval();
            Values(loaded.call(batch).Logit).Should().Equal(expected);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void LiveTensorCountStaysFlatAcrossTrainingSteps(string name)
    {
        manual_seed(22);
        using var model = ModelKinds.Create(name, TinyOptions());
        model.train();
        var optimizer = optim.Adam(model.parameters(), 0.01);
        var counts = new List<long>();
        for (int i = 0; i < 4; i++)
        {
            using (var scope = NewDisposeScope())
            {
                using var batch = new BehaviourBatch(Arrays(new[] { 3, 1, 0, 2 }, 3, seed: i));
                optimizer.zero_grad();
                using var output = model.call(batch);
                output.Loss!.backward();
                optimizer.step();
            }

            counts.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        }

        counts.Skip(1).Should().AllBeEquivalentTo(counts[1], "live tensors after each step: {0}", string.Join(", ", counts));
    }
}
