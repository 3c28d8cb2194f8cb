using Dien.Data.Batching;
using Dien.Model;

namespace Dien.Bench;

/// <summary>
/// FLOPs of one DIEN training step, counted from a batch's shapes.
/// Rule: a multiply-add of a matrix product is 2 FLOPs; elementwise work is ignored; backward costs twice
/// the forward, so a step is 3x the forward. The count is the one W's figures have used from the first run, so
/// that runs compare: the input projections over the longest valid length, the recurrences over the valid steps
/// only, attention and the auxiliary scorer over every position of the batch's width. Since training went packed,
/// the projections, the attention and the auxiliary scorer skip padding too; on W's length-bucketed batches that
/// is the small share the workload prints as <c>train_valid_position_share</c>'s complement.
/// </summary>
internal static class FlopCount
{
    public static double TrainingStep(BatchArrays batch, CtrModelOptions o)
    {
        double b = batch.Size, t = batch.Width, longest = batch.MaxLength;
        double valid = batch.Lengths.Sum();
        double e = o.BehaviourSize, h = o.HiddenSize;
        double forward = 0;

        // Interest extractor and evolution: one projection over all steps, the recurrence over valid steps.
        forward += 2 * b * longest * (e + h) * 3 * h;
        forward += 2 * 2 * valid * h * 3 * h;

        // MLP attention: query projection and its share of the first layer per row; per position two
        // products into the first layer, then the rest of the MLP.
        var a = o.AttentionHiddenSizes;
        forward += 2 * b * (e * h + h * a[0]);
        forward += 2 * b * t * (2 * h * a[0]);
        for (int i = 1; i < a.Count; i++)
        {
            forward += 2 * b * t * a[i - 1] * a[i];
        }

        forward += 2 * b * t * a[^1];

        // Auxiliary MLP over the T - 1 pairs: the state part once, the behaviour part for positive and negative.
        if (o.Alpha > 0)
        {
            var x = o.AuxiliaryHiddenSizes;
            double pairs = b * (t - 1);
            forward += 2 * pairs * (h + 2 * e) * x[0];
            for (int i = 1; i < x.Count; i++)
            {
                forward += 2 * 2 * pairs * x[i - 1] * x[i];
            }

            forward += 2 * 2 * pairs * x[^1];
        }

        // Head: [user, e_a, sum e, e_a * sum e, h'_T] -> 200 -> 80 -> 1.
        double width = o.UserEmbeddingSize + 3 * e + h;
        foreach (int layer in o.HeadHiddenSizes)
        {
            forward += 2 * b * width * layer;
            width = layer;
        }

        forward += 2 * b * width;
        return 3 * forward;
    }
}
