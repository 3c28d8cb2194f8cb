using Dien.Checkpoints;
using Dien.Data.Batching;
using Dien.Inference;
using Dien.Model;
using Dien.Tests.Model;
using Dien.Training;
using FluentAssertions;
using TorchSharp;
using Xunit;

namespace Dien.Tests.Training;

[Collection("Sequential")]
public class EndToEndTests
{
    [Theory]
    [InlineData(nameof(DienModel))]
    [InlineData("BaseModel")]
    [InlineData(nameof(DinModel))]
    public void Each_model_trains_saves_and_serves_through_the_predictor(string kind)
    {
        string path = Path.Combine(Path.GetTempPath(), $"dien-e2e-{Guid.NewGuid():N}.dien");
        try
        {
            var train = Enumerable.Range(0, 6).Select(i => ModelTestKit.Arrays(new[] { 3, 1, 4, 2, 4, 2 }, 4, seed: i)).ToList();
            var valid = Enumerable.Range(10, 2).Select(i => ModelTestKit.Arrays(new[] { 2, 4, 1, 3 }, 4, seed: i)).ToList();
            torch.manual_seed(1);
            using var model = ModelKinds.Create(kind, ModelTestKit.TinyOptions());
            using var trainer = new CtrTrainer(model, new TrainerOptions { Epochs = 2, GradientClipNorm = 5 });
            var result = trainer.Fit(_ => train, () => valid);
            result.Epochs.Should().HaveCount(2);
            result.Epochs.Should().OnlyContain(e => double.IsFinite(e.TrainingLoss) && double.IsFinite(e.Validation!.LogLoss));
            trainer.SaveCheckpoint(path);

            using var predictor = CtrPredictor.Load(path);
            var scores = predictor.Score(valid[0]);
            float[] expected;
            model.eval();
            using (torch.no_grad())
            using (var batch = new BehaviourBatch(valid[0]))
            using (var output = model.call(batch))
            {
                expected = output.Probability.data<float>().ToArray();
            }

            scores.Should().Equal(expected);
            predictor.ScoreCandidates(1, new long[] { 2, 3 }, new long[] { 1, 2 }, new long[] { 4, 5, 6 }, new long[] { 1, 1, 3 }, new long[] { 2 })
                .Should().HaveCount(3).And.OnlyContain(p => p > 0 && p < 1);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
