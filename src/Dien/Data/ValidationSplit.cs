namespace Dien.Data;

/// <summary>
/// Training samples divided by user into the part a model trains on and a held-out validation part that
/// picks the epoch (early stopping, best checkpoint), so that the test file is scored once, never used to choose.
/// </summary>
/// <param name="Train">The samples of the users kept for training, in their original order.</param>
/// <param name="Validation">Every sample of the held-out users, in their original order.</param>
public sealed record ValidationSplit(IReadOnlyList<Sample> Train, IReadOnlyList<Sample> Validation)
{
    /// <summary>
    /// Holds out a seeded random <paramref name="fraction"/> of the distinct users with all their samples.
    /// Split by user, like the authors' train/test files: the validation users are unseen in training, as the
    /// test users are, so validation figures predict test figures.
    /// </summary>
    /// <param name="samples">The training samples.</param>
    /// <param name="fraction">Share of the distinct users to hold out, in [0, 1). 0 holds out nothing.</param>
    /// <param name="seed">Seed of the shuffle of the users.</param>
    /// <returns>The two parts. With a fraction above 0 and at least two users, at least one user is held out and at least one is kept.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fraction"/> is outside [0, 1).</exception>
    public static ValidationSplit ByUser(IReadOnlyList<Sample> samples, double fraction, int seed)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (!(fraction >= 0 && fraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "The validation fraction must be in [0, 1): the share of users held out.");
        }

        // Users in order of first appearance, so that the split depends only on the data and the seed.
        var users = new List<long>();
        var seen = new HashSet<long>();
        foreach (var sample in samples)
        {
            if (seen.Add(sample.User))
            {
                users.Add(sample.User);
            }
        }

        int heldOut = fraction == 0 || users.Count < 2 ? 0 : Math.Clamp((int)Math.Round(fraction * users.Count), 1, users.Count - 1);
        var order = users.ToArray();
        new Random(seed).Shuffle(order);
        var validationUsers = new HashSet<long>(order.Take(heldOut));
        var train = new List<Sample>(samples.Count);
        var validation = new List<Sample>();
        foreach (var sample in samples)
        {
            (validationUsers.Contains(sample.User) ? validation : train).Add(sample);
        }

        return new ValidationSplit(train, validation);
    }

    /// <summary>
    /// Keeps, of each held-out user, only the samples with that user's longest history: in the authors' files,
    /// the user's final pair (the last item against its sampled negative), which is all a test file split by
    /// user holds. Validation then measures what the test measures, on fewer samples; the training part is unchanged.
    /// </summary>
    /// <returns>A split with the same <see cref="Train"/> and the held-out users' last samples, in their original order.</returns>
    public ValidationSplit LastPerUser()
    {
        var longest = new Dictionary<long, int>();
        foreach (var sample in Validation)
        {
            longest[sample.User] = Math.Max(longest.GetValueOrDefault(sample.User), sample.HistoryItems.Length);
        }

        return this with { Validation = Validation.Where(sample => sample.HistoryItems.Length == longest[sample.User]).ToList() };
    }
}
