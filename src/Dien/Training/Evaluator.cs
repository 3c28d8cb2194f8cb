using Dien.Metrics;
using Dien.Data.Batching;
using Dien.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Training;

/// <summary>Runs a model over labelled batches in eval mode and computes the metrics.</summary>
internal static class Evaluator
{
    public static EvaluationResult Evaluate(CtrModel model, IEnumerable<BatchArrays> batches, Device device, int prefetchDepth)
    {
        ArgumentNullException.ThrowIfNull(batches);
        var scores = new List<float>();
        var labels = new List<float>();
        var users = new List<long>();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            // Inference mode: no autograd bookkeeping at all; the scores leave as arrays.
            using var inference = torch.inference_mode(true);
            using var prefetcher = new Training.BatchPrefetcher(batches, device, prefetchDepth);
            int index = 0;
            foreach (var batch in prefetcher.Batches())
            {
                using (batch)
                {
                    var batchLabels = batch.Arrays.Labels ?? throw new ArgumentException($"Evaluation batch {index} has no labels.", nameof(batches));
                    using var scope = torch.NewDisposeScope();
                    using var output = model.call(batch);
                    scores.AddRange(output.Probability.to(torch.float32).cpu().data<float>().ToArray());
                    labels.AddRange(batchLabels);
                    // GAUC groups by the raw user where the data knows it: unseen users all share id 0.
                    users.AddRange(batch.Arrays.GroupIds ?? batch.Arrays.UserIds);
                }

                index++;
            }
        }
        finally
        {
            model.train(wasTraining);
        }

        var s = scores.ToArray();
        var l = labels.ToArray();
        return new EvaluationResult(ClickMetrics.Auc(s, l), ClickMetrics.GroupAuc(s, l, users.ToArray()), ClickMetrics.LogLoss(s, l), s.Length);
    }
}
