using Dien.Data;
using Dien.Data.Events;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Data;

/// <summary>The interner that holds a log's keys as ids: numbers' texts as numbers, the same vocabulary as counting the texts.</summary>
public sealed class KeyInternerTests
{
    [Theory]
    [InlineData("0", true, 0L)]
    [InlineData("7", true, 7L)]
    [InlineData("1069838", true, 1069838L)]
    [InlineData("999999999999999999", true, 999999999999999999L)]
    [InlineData("1000000000000000000", false, 0L)] // 19 digits: held as text
    [InlineData("01", false, 0L)] // prints as "1"
    [InlineData("+1", false, 0L)]
    [InlineData("-1", false, 0L)]
    [InlineData(" 1", false, 0L)]
    [InlineData("1 ", false, 0L)]
    [InlineData("1e3", false, 0L)]
    [InlineData("", false, 0L)]
    [InlineData("٣", false, 0L)] // a digit, but not an ASCII one
    public void Only_the_text_a_number_prints_as_is_held_as_that_number(string text, bool number, long value)
    {
        KeyInterner.IsNumberText(text, out long parsed).Should().Be(number);
        if (number)
        {
            parsed.Should().Be(value);
            parsed.ToString(System.Globalization.CultureInfo.InvariantCulture).Should().Be(text, "its text comes back from the number");
        }
    }

    [Fact]
    public void The_vocabulary_is_the_one_counting_the_texts_gives_and_a_number_and_its_text_are_one_key()
    {
        var random = new Random(3);
        string[] pool = ["10", "9", "010", "-4", "1000000000000000000", "a", "A", "é", "7", "70", "007", "123456789012345678"];
        var texts = Enumerable.Range(0, 600).Select(_ => pool[random.Next(pool.Length)]).ToList();
        var interner = new KeyInterner();
        var provisional = new List<int>();
        foreach (string text in texts)
        {
            // Some as text, some (where they are a long) as the numbers a Parquet column of longs gives.
            provisional.Add(random.Next(2) == 0 && long.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out long n)
                && n.ToString(System.Globalization.CultureInfo.InvariantCulture) == text
                ? interner.Of(n)
                : interner.Of(text.AsSpan()));
        }

        var (vocabulary, finalIds) = interner.Finish();
        var expected = Vocabulary.FromFrequencies(texts);
        vocabulary.Entries.Should().BeEquivalentTo(expected.Entries);
        vocabulary.Size.Should().Be(expected.Size);
        provisional.Select(id => finalIds[id]).Should().Equal(texts.Select(expected.IdOf), "every row keeps its key's id");
    }
}
