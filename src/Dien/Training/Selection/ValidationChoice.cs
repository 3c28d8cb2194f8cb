using Dien.Metrics;

namespace Dien.Training.Selection;

/// <summary>
/// Tries every candidate of a <see cref="SettingGrid"/> and keeps the one whose validation figure (the trainer's
/// monitored metric on held-out users, <see cref="TrainingResult.BestMetric"/>) is best. Opt-in, for a setting whose
/// best value depends on the data, such as DIEN's <c>Alpha</c>: the test file decides nothing.
/// </summary>
public static class ValidationChoice
{
    /// <summary>Trains each candidate with <paramref name="train"/> and returns every outcome and the best.</summary>
    /// <param name="grid">The candidates.</param>
    /// <param name="train">Builds, trains and evaluates one candidate (with a validation split) and returns the trainer's result; it owns the model it builds.</param>
    /// <param name="metric">The metric <paramref name="train"/>'s trainer monitors, which says whether higher or lower is better.</param>
    /// <param name="progress">Told each candidate's outcome as it finishes, or null.</param>
    /// <returns>Every candidate's outcome, in the grid's order, and the index of the best (the first on ties).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="grid"/> or <paramref name="train"/> is null.</exception>
    /// <exception cref="InvalidOperationException">No candidate produced a validation figure (no validation data was given to the trainer).</exception>
    public static ValidationChoiceResult Choose(
        SettingGrid grid, Func<SettingCandidate, TrainingResult> train, MetricKind metric = MetricKind.Auc, IProgress<CandidateOutcome>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(grid);
        ArgumentNullException.ThrowIfNull(train);
        var outcomes = new List<CandidateOutcome>();
        int best = -1;
        foreach (var candidate in grid.Candidates)
        {
            var outcome = new CandidateOutcome(candidate, train(candidate));
            outcomes.Add(outcome);
            progress?.Report(outcome);
            // The trainer's rule between epochs: a number beating the best strictly, so the first of equals stays best.
            if (BestEpochTracker.IsImprovement(outcome.ValidationMetric, best < 0 ? double.NaN : outcomes[best].ValidationMetric, metric))
            {
                best = outcomes.Count - 1;
            }
        }

        if (best < 0)
        {
            throw new InvalidOperationException(
                $"None of the {outcomes.Count} candidates has a validation figure: give the trainer validation batches (held-out users) so that candidates can be compared.");
        }

        return new ValidationChoiceResult(outcomes, best);
    }
}
