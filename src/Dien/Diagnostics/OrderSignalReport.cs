namespace Dien.Diagnostics;

/// <summary>
/// What <see cref="OrderSignal.Measure"/> found: the AUC on held-out users of a click model that sees only the
/// set of each history, and of the same model that also sees its order. The gain estimates how much there is on
/// the data for DIEN's evolution layer to add over DIN's order-free pooling (a deep model may find more, or use
/// less); a gain near 0 says the order carries little.
/// </summary>
/// <param name="StatisticsSamples">Samples of the users whose histories built the item statistics.</param>
/// <param name="FitSamples">Samples of the held-out users the two logistic models were fitted on.</param>
/// <param name="ScoredSamples">Samples of the other held-out users, scored by the fitted models.</param>
/// <param name="ScoredLastSamples">Of those, each user's samples with the longest history (the user's last pair in the authors' files).</param>
/// <param name="PopularityAuc">AUC of the target item's click count alone, on the scored samples.</param>
/// <param name="SetAuc">AUC of the model on order-free features (popularity, category overlap, item co-occurrence with the history).</param>
/// <param name="OrderedAuc">AUC of the model that adds order features (the last behaviours' category and item affinity, transitions from the last item, direction).</param>
/// <param name="LastSetAuc"><see cref="SetAuc"/> on the users' last samples only (NaN when those are all clicks or all non-clicks).</param>
/// <param name="LastOrderedAuc"><see cref="OrderedAuc"/> on the users' last samples only.</param>
public sealed record OrderSignalReport(
    int StatisticsSamples,
    int FitSamples,
    int ScoredSamples,
    int ScoredLastSamples,
    double PopularityAuc,
    double SetAuc,
    double OrderedAuc,
    double LastSetAuc,
    double LastOrderedAuc)
{
    /// <summary>What the order adds to the AUC over all the scored samples: <see cref="OrderedAuc"/> - <see cref="SetAuc"/>.</summary>
    public double Gain => OrderedAuc - SetAuc;

    /// <summary>What the order adds on the users' last samples: <see cref="LastOrderedAuc"/> - <see cref="LastSetAuc"/>.</summary>
    public double LastGain => LastOrderedAuc - LastSetAuc;
}
