namespace Dien.Training.Selection;

/// <summary>One candidate's training outcome in a <see cref="ValidationChoice"/>.</summary>
public sealed class CandidateOutcome
{
    internal CandidateOutcome(SettingCandidate candidate, TrainingResult result)
    {
        Candidate = candidate;
        Result = result;
    }

    /// <summary>The settings tried.</summary>
    public SettingCandidate Candidate { get; }

    /// <summary>The trainer's result for them.</summary>
    public TrainingResult Result { get; }

    /// <summary>The validation figure the choice compares: the best epoch's monitored metric, NaN when none was evaluated.</summary>
    public double ValidationMetric => Result.BestMetric;
}
