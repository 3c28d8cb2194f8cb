using Dien.Runtime;

namespace Dien.Data.Converters;

/// <summary>Options shared by the converters.</summary>
public sealed record ConversionOptions
{
    /// <summary>Share of users in the test split (default 0.2). Users are split, not samples, so no user is in both.</summary>
    public double TestUserFraction { get; init; } = 0.2;

    /// <summary>Seed of the user split and of the sampled negative targets.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Bad lines and empty histories.</summary>
    public ReadOptions Read { get; init; } = new();

    /// <summary>Which behaviours of a training user become click pairs.</summary>
    /// <value>
    /// <see cref="TrainingTargets.LastBehaviour"/>: one pair per user. Set <see cref="TrainingTargets.EveryBehaviour"/>
    /// to train on every interaction, as the authors' training files do (with <see cref="MaxHistoryLength"/> on long
    /// logs: a user's pairs hold histories of every length up to theirs).
    /// </value>
    public TrainingTargets TrainingTargets { get; init; } = TrainingTargets.LastBehaviour;

    /// <summary>Keep at most this many of the most recent behaviours in each history; null keeps them all.</summary>
    /// <value>Null (whole histories).</value>
    public int? MaxHistoryLength { get; init; }

    /// <summary>Every problem with these options, each naming its option; empty when they are valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new OptionErrors();
        errors.Require(TestUserFraction is >= 0 and <= 1, nameof(TestUserFraction), TestUserFraction, "must be in [0, 1]");
        errors.Require(Enum.IsDefined(TrainingTargets), nameof(TrainingTargets), TrainingTargets, "is not a defined choice of targets");
        errors.Require(MaxHistoryLength is null or >= 1, nameof(MaxHistoryLength), MaxHistoryLength, "must be at least 1 (or null for whole histories)");
        return errors.Errors;
    }

    /// <summary>Throws when <see cref="Validate"/> finds any problem.</summary>
    /// <exception cref="DataOptionsException">One or more options are invalid; the message lists them all.</exception>
    public void EnsureValid() => DataOptionsException.ThrowIfAny(nameof(ConversionOptions), Validate());
}
