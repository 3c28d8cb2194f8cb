using Dien.Data.Batching;
using Dien.Kernels.Attention;
using Dien.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Dien.Attention;

/// <summary>
/// The authors' attention (DIN style): q = a linear projection of e_a to the key width, then
/// score_t = MLP([q, h_t, q - h_t, q * h_t]) with sigmoid hidden layers (default 80 -> 40), then a
/// softmax over the valid positions. State-dict keys: <c>query</c>, <c>layers.i</c>, <c>score</c>.
/// </summary>
internal sealed class MlpAttention : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "query")]
    private readonly Linear _query;
    [ComponentName(Name = "layers")]
    private readonly ModuleList<Linear> _layers;
    [ComponentName(Name = "score")]
    private readonly Linear _score;
    private readonly int _keySize;
    private readonly int _querySize;

    /// <summary>Creates the attention.</summary>
    /// <param name="keySize">Width of the attended states (H, or E for DIN).</param>
    /// <param name="querySize">Width of the target ad (E).</param>
    /// <param name="hiddenSizes">Hidden layer widths of the scoring MLP.</param>
    /// <param name="useFusedKernels">Run the fused CPU kernel when the input is on CPU.</param>
    public MlpAttention(int keySize, int querySize, IList<int> hiddenSizes, bool useFusedKernels = true)
        : base(nameof(MlpAttention))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(keySize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(querySize);
        ArgumentNullException.ThrowIfNull(hiddenSizes);
        _keySize = keySize;
        _querySize = querySize;
        UseFusedKernels = useFusedKernels;
        _query = nn.Linear(querySize, keySize);
        var widths = new List<int> { 4 * keySize };
        widths.AddRange(hiddenSizes);
        _layers = nn.ModuleList(Enumerable.Range(0, widths.Count - 1).Select(i => nn.Linear(widths[i], widths[i + 1])).ToArray());
        _score = nn.Linear(widths[^1], 1);
        RegisterComponents();
    }

    /// <summary>
    /// Whether the scores run as the fused CPU kernel when they can; false forces the libtorch composition,
    /// the reference the kernel is tested against.
    /// </summary>
    public bool UseFusedKernels { get; set; }

    /// <summary>How the scores become weights.</summary>
    /// <value>The default value is <see cref="AttentionNormalization.Softmax"/> over the valid positions.</value>
    public AttentionNormalization Normalization { get; set; }

    /// <summary>Attention weights of each position.</summary>
    /// <param name="states">States h_t, [B, T, H].</param>
    /// <param name="target">Target ad e_a, [B, E].</param>
    /// <param name="mask">True at valid positions, bool [B, T].</param>
    /// <returns>[B, T]; zero at padded positions and for empty rows.</returns>
    public override Tensor forward(Tensor states, Tensor target, Tensor mask)
    {
        Guard.Shape(states, new[] { Guard.Any, Guard.Any, (long)_keySize });
        Guard.Shape(target, new[] { states.size(0), (long)_querySize });
        Guard.Mask(mask, states.size(0), states.size(1));
        using var scope = NewDisposeScope();
        var q = _query.call(target); // [B, H]
        if (UseFusedKernels && FusedMlpAttention.Supports(states) && _score.bias is not null && _layers.All(l => l.bias is not null))
        {
            var linear = _layers.Append(_score).ToList();
            var fused = FusedMlpAttention.Scores(states, q, mask, linear.Select(l => (Tensor)l.weight!).ToList(), linear.Select(l => (Tensor)l.bias!).ToList());
            return AttentionWeights.Of(fused, mask, Normalization).MoveToOuterDisposeScope();
        }

        var x = _layers.Count > 0 ? torch.sigmoid(FirstLayer(_layers[0], q, states)) : null;
        for (int i = 1; i < _layers.Count; i++)
        {
            x = torch.sigmoid(_layers[i].call(x!));
        }

        var scores = (x is null ? FirstLayer(_score, q, states) : _score.call(x)).squeeze(-1);
        return AttentionWeights.Of(scores, mask, Normalization).MoveToOuterDisposeScope();
    }

    /// <summary>Whether <see cref="ForwardPacked"/> can take these states: the fused kernel runs for them.</summary>
    /// <param name="states">The states, packed or padded.</param>
    internal bool ReadsPacked(Tensor states)
        => UseFusedKernels && FusedMlpAttention.Supports(states) && _score.bias is not null && _layers.All(l => l.bias is not null);

    /// <summary>
    /// Attention weights from states packed (the valid positions row after row): the fused kernel reads them as they
    /// are, so padding costs neither a copy nor a gradient.
    /// </summary>
    /// <param name="states">States h_t at the N valid positions of <paramref name="mask"/>, [N, H].</param>
    /// <param name="target">Target ad e_a, [B, E].</param>
    /// <param name="mask">True at valid positions, bool [B, T].</param>
    /// <returns>[B, T]; zero at padded positions and for empty rows.</returns>
    /// <exception cref="ArgumentException">A shape does not fit, or the fused kernel cannot take the states (<see cref="ReadsPacked"/>).</exception>
    internal Tensor ForwardPacked(Tensor states, Tensor target, Tensor mask)
    {
        Guard.PackedRoute(ReadsPacked(states), states, UseFusedKernels);
        Guard.Shape(states, new[] { Guard.Any, (long)_keySize });
        Guard.Mask(mask, Guard.Any, Guard.Any);
        Guard.Shape(target, new[] { mask.size(0), (long)_querySize });
        using var scope = NewDisposeScope();
        var q = _query.call(target);
        var linear = _layers.Append(_score).ToList();
        var scores = FusedMlpAttention.Scores(states, q, mask, linear.Select(l => (Tensor)l.weight!).ToList(), linear.Select(l => (Tensor)l.bias!).ToList());
        return AttentionWeights.Of(scores, mask, Normalization).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Attention weights of rows that share histories (ranking): <paramref name="states"/> has one row per history,
    /// which each row reads through <paramref name="rows"/>. The fused kernel reads each history's states where they
    /// are (<see cref="ReadsPacked"/>); otherwise the states are spread to the rows, a copy per row.
    /// </summary>
    /// <param name="states">States h_t, [R, T, H], one row per history.</param>
    /// <param name="rows">The history each row reads.</param>
    /// <param name="target">Target ad e_a, [B, E], one per row.</param>
    /// <param name="mask">True at valid positions, bool [B, T], one row per row.</param>
    /// <returns>[B, T]; zero at padded positions and for empty rows.</returns>
    /// <exception cref="ArgumentException">A shape does not fit.</exception>
    internal Tensor ForwardShared(Tensor states, HistoryIndex rows, Tensor target, Tensor mask)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.HistoryOfRow is not { } historyOfRow || !ReadsPacked(states))
        {
            return forward(rows.Spread(states), target, mask);
        }

        Guard.Shape(states, new[] { Guard.Any, Guard.Any, (long)_keySize });
        Guard.Shape(target, new[] { historyOfRow.LongLength, (long)_querySize });
        using var scope = NewDisposeScope();
        var q = _query.call(target);
        var linear = _layers.Append(_score).ToList();
        var scores = FusedMlpAttention.Scores(states, q, mask, linear.Select(l => (Tensor)l.weight!).ToList(), linear.Select(l => (Tensor)l.bias!).ToList(), historyOfRow);
        return AttentionWeights.Of(scores, mask, Normalization).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The first layer on [q, h, q - h, q * h] without building that [B, T, 4H] input: with W = [A | B | C | D],
    /// W x + b = (A + C) q + (B - C) h + D (q * h) + b, and the q part is computed once per row.
    /// </summary>
    private Tensor FirstLayer(Linear layer, Tensor q, Tensor states)
    {
        var w = layer.weight!.chunk(4, 1);
        var perRow = nn.functional.linear(q, w[0].Plus(w[2]), layer.bias).unsqueeze(1); // [B, 1, out]
        var perStep = nn.functional.linear(states, w[1].Minus(w[2])).Plus(nn.functional.linear(q.unsqueeze(1) * states, w[3]));
        return perStep.Plus(perRow);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _query.Dispose();
            _layers.Dispose();
            _score.Dispose();
        }

        base.Dispose(disposing);
    }
}
