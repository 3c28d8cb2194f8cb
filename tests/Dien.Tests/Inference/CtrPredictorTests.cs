using Dien.Checkpoints;
using Dien.Inference;
using Dien.Tests.Training;
using FluentAssertions;
using TorchSharp;
using Xunit;

namespace Dien.Tests.Inference;

[Collection("Sequential")]
public class CtrPredictorTests
{
    [Fact]
    public void Loaded_predictor_scores_like_the_model_and_eight_threads_agree_with_one()
    {
        ModelKinds.Register("tiny", o => new TinyCtrModel(o));
        string path = Path.Combine(Path.GetTempPath(), $"dien-predict-{Guid.NewGuid():N}.dien");
        try
        {
            torch.manual_seed(3);
            using var model = new TinyCtrModel(TinyCtrModel.SmallOptions());
            Checkpoint.Save(path, model);
            var batch = TinyData.Batches(4, 1, size: 12)[0];
            float[] expected;
            model.eval();
            using (torch.no_grad())
            using (var tensors = new Dien.Data.Batching.BehaviourBatch(batch))
            using (var output = model.call(tensors))
            {
                expected = output.Probability.data<float>().ToArray();
            }

            using var predictor = CtrPredictor.Load(path);
            predictor.Score(batch).Should().Equal(expected);

            var history = new long[] { 8, 9, 10 };
            var historyCategories = new long[] { 1, 1, 1 };
            var candidates = new long[] { 7, 15, 22, 30 };
            var candidateCategories = new long[] { 1, 2, 3, 4 };
            var one = predictor.ScoreCandidates(5, history, historyCategories, candidates, candidateCategories);
            one.Should().HaveCount(4).And.OnlyContain(p => p > 0 && p < 1);

            var results = new float[8][][];
            Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
            {
                results[i] = Enumerable.Range(0, 20).Select(_ => i % 2 == 0
                    ? predictor.ScoreCandidates(5, history, historyCategories, candidates, candidateCategories)
                    : predictor.Score(batch)).ToArray();
            });

            for (int i = 0; i < 8; i++)
            {
                foreach (var r in results[i])
                {
                    r.Should().Equal(i % 2 == 0 ? one : expected);
                }
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Out_of_range_ids_and_use_after_dispose_fail_cleanly()
    {
        var model = new TinyCtrModel(TinyCtrModel.SmallOptions());
        var predictor = new CtrPredictor(model, ownsModel: true);
        var bad = () => predictor.ScoreCandidates(1, new long[] { 2 }, new long[] { 1 }, new long[] { 400 }, new long[] { 1 });
        bad.Should().Throw<ArgumentException>().WithMessage("*TargetItems*400*");
        predictor.Dispose();
        var late = () => predictor.ScoreCandidates(1, new long[] { 2 }, new long[] { 1 }, new long[] { 4 }, new long[] { 1 });
        late.Should().Throw<ObjectDisposedException>();
    }
}
