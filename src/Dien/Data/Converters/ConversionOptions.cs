using Dien.Runtime;

namespace Dien.Data.Converters;

/// <summary>Options shared by the converters.</summary>
public sealed class ConversionOptions
{
    /// <summary>Share of users in the test split (default 0.2). Users are split, not samples, so no user is in both. Not used with <see cref="SplitByTime"/>.</summary>
    /// <value>The default value is 0.2.</value>
    public double TestUserFraction { get; set; } = 0.2;

    /// <summary>Seed of the user split and of the sampled negative targets.</summary>
    /// <value>The default value is 1.</value>
    public int Seed { get; set; } = 1;

    /// <summary>Bad lines and empty histories.</summary>
    /// <value>The default value is a new <see cref="ReadOptions"/> (its own defaults).</value>
    public ReadOptions Read { get; set; } = new();

    /// <summary>Which behaviours of a training user become click pairs.</summary>
    /// <value>
    /// The default value is <see cref="TrainingTargets.EveryBehaviour"/>: one pair per interaction, as the authors' training
    /// files hold; <see cref="TrainingTargets.LastBehaviour"/> keeps one per user. Test users give their last behaviour either way.
    /// </value>
    public TrainingTargets TrainingTargets { get; set; } = TrainingTargets.EveryBehaviour;

    /// <summary>Keep at most this many of the most recent behaviours in each history; null keeps them all.</summary>
    /// <value>
    /// The default value is 100, the batcher's default cut (<see cref="Batching.BatcherOptions.MaxHistoryLength"/>) and the authors' maximum length. With
    /// every behaviour a target, a user's pairs hold histories of every length up to theirs, so whole histories
    /// cost memory quadratic in the longest user's log.
    /// </value>
    public int? MaxHistoryLength { get; set; } = 100;

    /// <summary>Splits the log by time instead of by user: train before a cut, test after it, validate on the training period's last slice.</summary>
    /// <value>
    /// The default value is null: split by user (<see cref="TestUserFraction"/>), the authors' protocol, which judges
    /// a model on users it never saw. A split by time judges it as production does, on the next period's traffic of
    /// known users. The converters need the log's timestamps (MovieLens, Taobao, event logs; not the Amazon sequences).
    /// </value>
    public TimeSplit? SplitByTime { get; set; }

    /// <summary>A copy of every value (and of the nested read options), so that whoever keeps these options is not changed by later changes to this instance.</summary>
    /// <returns>A new instance with the same values.</returns>
    public ConversionOptions Clone()
    {
        var copy = (ConversionOptions)MemberwiseClone();
        copy.Read = Read?.Clone()!;
        return copy;
    }

    /// <summary>Every problem with these options, each naming its option; empty when they are valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new OptionErrors();
        errors.Require(Read is not null, nameof(Read), Read, "must not be null (new ReadOptions() reads with the defaults)");
        errors.Require(TestUserFraction is >= 0 and <= 1, nameof(TestUserFraction), TestUserFraction, "must be in [0, 1]");
        errors.Require(Enum.IsDefined(TrainingTargets), nameof(TrainingTargets), TrainingTargets, "is not a defined choice of targets");
        errors.Require(MaxHistoryLength is null or >= 1, nameof(MaxHistoryLength), MaxHistoryLength, "must be at least 1 (or null for whole histories)");
        foreach (string problem in SplitByTime?.Validate() ?? [])
        {
            errors.Add($"{nameof(SplitByTime)}: {problem}");
        }

        return errors.Errors;
    }

    /// <summary>Throws when <see cref="Validate"/> finds any problem.</summary>
    /// <exception cref="DataOptionsException">One or more options are invalid; the message lists them all.</exception>
    public void EnsureValid() => DataOptionsException.ThrowIfAny(nameof(ConversionOptions), Validate());
}
