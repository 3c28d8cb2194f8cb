namespace Dien.Data.Converters;

/// <summary>Which behaviours of a training user a converter turns into click pairs.</summary>
public enum TrainingTargets
{
    /// <summary>
    /// Only the user's last behaviour (against one sampled negative), as for a test user: one pair per user,
    /// a training set as large as the user count.
    /// </summary>
    LastBehaviour,

    /// <summary>
    /// Every behaviour, each against its own sampled negative and with the behaviours before it as its history
    /// (the first one's is empty: kept or dropped as <see cref="ReadOptions.KeepEmptyHistories"/> says): the prefix
    /// pairs of the authors' training files, one pair per interaction. Test users still give their last behaviour
    /// only.
    /// </summary>
    EveryBehaviour,
}
