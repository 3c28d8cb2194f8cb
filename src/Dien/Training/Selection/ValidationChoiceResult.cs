namespace Dien.Training.Selection;

/// <summary>The outcome of <see cref="ValidationChoice.Choose"/>: every candidate's outcome and the chosen one.</summary>
public sealed class ValidationChoiceResult
{
    internal ValidationChoiceResult(IReadOnlyList<CandidateOutcome> outcomes, int bestIndex)
    {
        Outcomes = outcomes;
        BestIndex = bestIndex;
    }

    /// <summary>Every candidate's outcome, in the grid's order.</summary>
    public IReadOnlyList<CandidateOutcome> Outcomes { get; }

    /// <summary>The index of the chosen candidate in <see cref="Outcomes"/>: the best validation figure, the first on ties.</summary>
    public int BestIndex { get; }

    /// <summary>The chosen candidate's outcome.</summary>
    public CandidateOutcome Best => Outcomes[BestIndex];
}
