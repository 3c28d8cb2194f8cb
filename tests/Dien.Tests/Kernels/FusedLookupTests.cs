using Dien.Kernels.Lookup;
using FluentAssertions;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Dien.Tests.Kernels;

/// <summary>
/// <see cref="FusedLookup"/>: the rows of several tables side by side, and the tables' gradients, equal
/// <c>nn.Embedding(padding_idx: 0)</c> per table and a concatenation to the bit; padding gets no gradient; an id
/// outside its table is refused by name.
/// </summary>
public sealed class FusedLookupTests
{
    [Theory]
    [InlineData(ScalarType.Float32, 5, 3)]
    [InlineData(ScalarType.Float64, 5, 3)]
    // Wider than a vector, with a tail: the backward adds whole vectors, then element by element.
    [InlineData(ScalarType.Float32, 18, 9)]
    [InlineData(ScalarType.Float64, 18, 9)]
    public void Rows_and_table_gradients_equal_the_embedding_modules_to_the_bit(ScalarType dtype, int itemWidth, int categoryWidth)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(seed: 21);
        using var items = nn.Embedding(11, itemWidth, padding_idx: 0, dtype: dtype);
        using var categories = nn.Embedding(4, categoryWidth, padding_idx: 0, dtype: dtype);
        using (no_grad())
        {
            items.weight!.copy_(randn(new long[] { 11, itemWidth }, dtype: dtype, generator: generator));
            categories.weight!.copy_(randn(new long[] { 4, categoryWidth }, dtype: dtype, generator: generator));
        }

        // Repeated ids (their gradients add up), padding 0 among them.
        var itemIds = tensor(new long[] { 3, 0, 3, 10, 1, 3, 0, 7 });
        var categoryIds = tensor(new long[] { 1, 0, 2, 3, 1, 1, 0, 2 });
        var upstream = randn(new long[] { 8, itemWidth + categoryWidth }, dtype: dtype, generator: generator);

        var rows = FusedLookup.Rows(["item", "category"], [items.weight!, categories.weight!], [itemIds, categoryIds]);
        (rows * upstream).sum().backward();
        var (gi, gc) = (items.weight!.grad!.clone(), categories.weight!.grad!.clone());
        items.weight!.grad!.zero_();
        categories.weight!.grad!.zero_();

        var expected = torch.cat(new[] { items.call(itemIds), categories.call(categoryIds) }, -1);
        (expected * upstream).sum().backward();

        rows.eq(expected).all().item<bool>().Should().BeTrue("the rows");
        gi.eq(items.weight!.grad!).all().item<bool>().Should().BeTrue("the item table's gradient");
        gc.eq(categories.weight!.grad!).all().item<bool>().Should().BeTrue("the category table's gradient");
        gi[0].abs().sum().to_type(ScalarType.Float64).item<double>().Should().Be(0, "padding gets no gradient");
        gi[3].abs().sum().to_type(ScalarType.Float64).item<double>().Should().BeGreaterThan(0);
    }

    [Fact]
    public void Without_a_gradient_it_builds_no_graph_and_reads_the_same_rows()
    {
        using var scope = NewDisposeScope();
        using var table = nn.Embedding(6, 4, padding_idx: 0);
        var ids = tensor(new long[] { 5, 0, 2 });
        using (no_grad())
        {
            var rows = FusedLookup.Rows(["user"], [table.weight!], [ids]);
            rows.requires_grad.Should().BeFalse();
            rows.eq(table.call(ids)).all().item<bool>().Should().BeTrue();
        }
    }

    [Fact]
    public void An_id_outside_its_table_is_refused_by_table_position_and_id()
    {
        using var scope = NewDisposeScope();
        using var items = nn.Embedding(6, 4, padding_idx: 0);
        using var categories = nn.Embedding(3, 2, padding_idx: 0);
        var act = () => FusedLookup.Rows(["item", "category"], [items.weight!, categories.weight!], [tensor(new long[] { 1, 2 }), tensor(new long[] { 2, 3 })]);
        act.Should().Throw<ArgumentException>().WithMessage("category id 3 at position 1 is outside the table's 3 rows*");
        var negative = () => FusedLookup.Rows(["item"], [items.weight!], [tensor(new long[] { -1 })]);
        negative.Should().Throw<ArgumentException>().WithMessage("item id -1 at position 0*");
    }

    [Fact]
    public void Ids_of_different_lengths_are_refused()
    {
        using var scope = NewDisposeScope();
        using var items = nn.Embedding(6, 4, padding_idx: 0);
        using var categories = nn.Embedding(3, 2, padding_idx: 0);
        var act = () => FusedLookup.Rows(["item", "category"], [items.weight!, categories.weight!], [tensor(new long[] { 1, 2 }), tensor(new long[] { 2 })]);
        act.Should().Throw<ArgumentException>().WithMessage("the category ids*[1]*should be int64 [2]*");
        var matrix = () => FusedLookup.Rows(["item"], [items.weight!], [tensor(new long[] { 1, 2, 3, 4 }).reshape(2, 2)]);
        matrix.Should().Throw<ArgumentException>().WithMessage("the item ids [2, 2] should be one id per row*");
    }
}
