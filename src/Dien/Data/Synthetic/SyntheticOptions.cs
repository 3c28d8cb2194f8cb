using Dien.Runtime;

namespace Dien.Data.Synthetic;

/// <summary>Options of <see cref="SyntheticGenerator"/>. The defaults are the benchmark workload.</summary>
public sealed class SyntheticOptions
{
    /// <summary>Total samples, train and test together (default 20,000).</summary>
    /// <value>The default value is 20,000.</value>
    public int Samples { get; set; } = 20_000;

    /// <summary>Number of users (default 2,000; ids 1..Users).</summary>
    /// <value>The default value is 2,000.</value>
    public int Users { get; set; } = 2_000;

    /// <summary>Number of items (default 1,000; ids 1..Items).</summary>
    /// <value>The default value is 1,000.</value>
    public int Items { get; set; } = 1_000;

    /// <summary>Number of categories (default 50; ids 1..Categories). Item i has category 1 + (i - 1) mod Categories.</summary>
    /// <value>The default value is 50.</value>
    public int Categories { get; set; } = 50;

    /// <summary>Shortest history (default 5).</summary>
    /// <value>The default value is 5.</value>
    public int MinHistoryLength { get; set; } = 5;

    /// <summary>Longest history (default 50).</summary>
    /// <value>The default value is 50.</value>
    public int MaxHistoryLength { get; set; } = 50;

    /// <summary>Share of samples in the test split (default 0.2: 80/20).</summary>
    /// <value>The default value is 0.2.</value>
    public double TestFraction { get; set; } = 0.2;

    /// <summary>Probability that the interest moves to another category after each behaviour (default 0.15).</summary>
    /// <value>The default value is 0.15.</value>
    public double DriftProbability { get; set; } = 0.15;

    /// <summary>How many of the most recent behaviours define the current interest (default 3).</summary>
    /// <value>The default value is 3.</value>
    public int RecentWindow { get; set; } = 3;

    /// <summary>Click probability when the target's category is a current interest (default 0.9).</summary>
    /// <value>The default value is 0.9.</value>
    public double ClickProbabilityRecent { get; set; } = 0.9;

    /// <summary>Click probability otherwise, including categories the user left long ago (default 0.1).</summary>
    /// <value>The default value is 0.1.</value>
    public double ClickProbabilityOther { get; set; } = 0.1;

    /// <summary>Seed; the same seed gives the same samples.</summary>
    /// <value>The default value is 2019.</value>
    public int Seed { get; set; } = 2019;

    /// <summary>A copy of every value, so that whoever keeps these options is not changed by later changes to this instance.</summary>
    /// <returns>A new instance with the same values.</returns>
    public SyntheticOptions Clone() => (SyntheticOptions)MemberwiseClone();

    /// <summary>Every problem with these options, each naming its option; empty when they are valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new OptionErrors();
        void Require(bool ok, string name, object value, string rule) => errors.Require(ok, name, value, rule);

        Require(Samples >= 1, nameof(Samples), Samples, "must be at least 1");
        Require(Users >= 1, nameof(Users), Users, "must be at least 1");
        Require(Categories >= 2, nameof(Categories), Categories, "must be at least 2");
        Require(Items >= Categories, nameof(Items), Items, $"must be at least {nameof(Categories)} = {Categories}");
        Require(MinHistoryLength >= 1, nameof(MinHistoryLength), MinHistoryLength, "must be at least 1");
        Require(MaxHistoryLength >= MinHistoryLength, nameof(MaxHistoryLength), MaxHistoryLength, $"must be at least {nameof(MinHistoryLength)} = {MinHistoryLength}");
        Require(TestFraction is >= 0 and < 1, nameof(TestFraction), TestFraction, "must be in [0, 1)");
        Require(DriftProbability is >= 0 and <= 1, nameof(DriftProbability), DriftProbability, "must be in [0, 1]");
        Require(RecentWindow >= 1, nameof(RecentWindow), RecentWindow, "must be at least 1");
        Require(ClickProbabilityRecent is >= 0 and <= 1, nameof(ClickProbabilityRecent), ClickProbabilityRecent, "must be in [0, 1]");
        Require(ClickProbabilityOther is >= 0 and <= 1, nameof(ClickProbabilityOther), ClickProbabilityOther, "must be in [0, 1]");
        return errors.Errors;
    }

    /// <summary>Throws when <see cref="Validate"/> finds any problem.</summary>
    /// <exception cref="DataOptionsException">One or more options are invalid; the message lists them all.</exception>
    public void EnsureValid() => DataOptionsException.ThrowIfAny(nameof(SyntheticOptions), Validate());
}
