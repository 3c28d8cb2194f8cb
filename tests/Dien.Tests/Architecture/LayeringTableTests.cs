using FluentAssertions;
using Xunit;

namespace Dien.Tests.Architecture;

public sealed class LayeringTableTests
{
    private static readonly string[] Good =
    {
        "# Architecture",
        "",
        LayeringTable.Begin,
        "| Namespace | Rank | May use |",
        "| --- | --- | --- |",
        "| `Dien.Model` | 2 | ranks 0-1 |",
        "| `Dien.Data` | 1 | rank 0 |",
        "| `Dien.Runtime` | 0 | nothing |",
        LayeringTable.End,
        "after",
    };

    private static string[] With(int index, string line)
    {
        var lines = (string[])Good.Clone();
        lines[index] = line;
        return lines;
    }

    private static string ProblemWith(string[] lines)
    {
        var parse = () => LayeringTable.Parse(lines, "doc.md");
        return parse.Should().Throw<InvalidDataException>().Which.Message;
    }

    [Fact]
    public void The_rows_between_the_markers_are_the_layers()
    {
        LayeringTable.Parse(Good, "doc.md").Should().Equal(
            new LayeringTable.Layer("Dien.Model", 2, 1),
            new LayeringTable.Layer("Dien.Data", 1, 0),
            new LayeringTable.Layer("Dien.Runtime", 0, -1));
    }

    [Fact]
    public void The_docs_table_has_a_row_for_every_layer_from_Runtime_up()
    {
        var layers = LayeringTable.Read();

        layers.Should().Contain(new LayeringTable.Layer("Dien.Runtime", 0, -1));
        layers.Should().Contain(l => l.Namespace == "Dien.Training");
        layers.Should().OnlyContain(l => l.MayUseUpTo < l.Rank);
    }

    [Fact]
    public void A_missing_marker_is_named()
    {
        ProblemWith(Good.Where(l => l != LayeringTable.Begin).ToArray()).Should().Contain("doc.md: no line '<!-- layering-table:begin -->'");
        ProblemWith(Good.Where(l => l != LayeringTable.End).ToArray()).Should().Contain("no line '<!-- layering-table:end -->'");
    }

    [Fact]
    public void A_repeated_or_misplaced_marker_is_named()
    {
        ProblemWith(With(9, LayeringTable.Begin)).Should().Contain("line 10").And.Contain("appears 2 times (lines 3, 10)");
        ProblemWith(With(1, LayeringTable.End).Where((_, i) => i != 8).ToArray()).Should().Contain("comes before");
    }

    [Fact]
    public void A_wrong_header_or_separator_is_named()
    {
        ProblemWith(With(3, "| Namespace | Layer | May use |")).Should().Contain("line 4: the header must be '| Namespace | Rank | May use |'");
        ProblemWith(With(4, "| --- | --- |")).Should().Contain("line 5: the line after the header must be the separator");
    }

    [Fact]
    public void An_empty_table_is_named()
    {
        ProblemWith(Good.Take(5).Append(LayeringTable.End).ToArray()).Should().Contain("at least one row");
    }

    [Theory]
    [InlineData("`Dien.Model` | 2 | ranks 0-1", "line 6: every line between the markers must be a table row")]
    [InlineData("| `Dien.Model` | 2 |", "line 6: a row has 3 cells")]
    [InlineData("| Dien.Model | 2 | ranks 0-1 |", "line 6: the namespace must be written as code")]
    [InlineData("| `Dien.Model` | two | ranks 0-1 |", "line 6: the rank of Dien.Model must be a whole number")]
    [InlineData("| `Dien.Model` | -2 | ranks 0-1 |", "the rank of Dien.Model must be a whole number")]
    [InlineData("| `Dien.Model` | 2 | everything below |", "line 6: 'May use' of Dien.Model must be 'nothing', 'rank 0' or 'ranks 0-N'")]
    [InlineData("| `Dien.Model` | 2 | ranks 0-2 |", "line 6: Dien.Model has rank 2 but may use up to rank 2")]
    [InlineData("| `Dien.Data` | 3 | ranks 0-2 |", "line 7: Dien.Data has a second row (the first says rank 3)")]
    public void A_malformed_row_is_named_with_its_line(string row, string message)
    {
        ProblemWith(With(5, row)).Should().Contain(message);
    }
}
