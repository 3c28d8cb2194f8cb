using Dien.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Dien.Kernels.Lookup;

/// <summary>
/// Rows of several embedding tables side by side in one CPU kernel (<see cref="LookupKernel{T}"/>): the same values
/// and gradients as <c>nn.Embedding(padding_idx: 0)</c> per table and a concatenation, which stay the path on other
/// devices and with a max-norm.
/// </summary>
/// <remarks>
/// Why: libtorch's dense embedding backward on CPU adds each looked-up row's gradient through a tensor iterator of its
/// own, about 1 µs a row; a training step on W looks up about 6,000 rows in each of two tables, and that backward was
/// most of the embedding's 1.6 ms. Here it is one loop over the rows.
/// </remarks>
internal static class FusedLookup
{
    /// <summary>Whether the kernel can take these tables: on CPU, float32 or float64, one dtype.</summary>
    /// <param name="tables">The tables.</param>
    public static bool Supports(IReadOnlyList<Tensor> tables)
        => tables.Count > 0 && tables.All(t => t.device_type == DeviceType.CPU && t.dtype == tables[0].dtype)
           && (tables[0].dtype == ScalarType.Float32 || tables[0].dtype == ScalarType.Float64);

    /// <summary>out[i] = [T_0[ids_0[i]] ; T_1[ids_1[i]] ; ...], [N, sum of the widths].</summary>
    /// <param name="names">A name per table, for messages.</param>
    /// <param name="tables">The tables [V_j, D_j].</param>
    /// <param name="ids">Row ids per table, int64 [N], each in 0 .. V_j - 1 (0 is padding: it gets no gradient).</param>
    /// <exception cref="ArgumentException">A shape, dtype or device does not fit, or an id is outside its table; the message names the table and the id.</exception>
    public static Tensor Rows(IReadOnlyList<string> names, IReadOnlyList<Tensor> tables, IReadOnlyList<Tensor> ids)
    {
        // Made contiguous once: the bounds check and the kernel read the same memory.
        var contiguousIds = ids.Select(i => i.contiguous()).ToArray();
        Validate(names, tables, contiguousIds);
        bool needsGrad = torch.is_grad_enabled() && tables.Any(t => t.requires_grad);
        if (!needsGrad)
        {
            return LookupFunction.Inference(tables, contiguousIds);
        }

        var args = new List<object>(tables);
        args.AddRange(contiguousIds);
        args.Add(tables.Count);
        return LookupFunction.apply(args.ToArray());
    }

    private static unsafe void Validate(IReadOnlyList<string> names, IReadOnlyList<Tensor> tables, IReadOnlyList<Tensor> ids)
    {
        Guard.That(Supports(tables), $"the tables should be on CPU with one dtype, float32 or float64 (check Supports first).", nameof(tables));
        Guard.That(names.Count == tables.Count && ids.Count == tables.Count, $"{names.Count} names, {tables.Count} tables and {ids.Count} id vectors should be as many.", nameof(ids));
        Guard.That(ids[0].dim() == 1, $"the {names[0]} ids {Guard.ShapeOf(ids[0])} should be one id per row, [N].", nameof(ids));
        long n = ids[0].size(0);
        for (int j = 0; j < tables.Count; j++)
        {
            Guard.That(tables[j].dim() == 2, $"table {names[j]} {Guard.ShapeOf(tables[j])} should be [rows, width].", nameof(tables));
            Guard.That(ids[j].dtype == ScalarType.Int64 && ids[j].device_type == DeviceType.CPU && ids[j].dim() == 1 && ids[j].size(0) == n,
                $"the {names[j]} ids ({ids[j].dtype}, {Guard.ShapeOf(ids[j])}) should be int64 [{n}] on CPU, as many as the first table's.", nameof(ids));
            long rows = tables[j].size(0);
            long* p = Kernels.Primitives.TensorMemory.Pointer<long>(ids[j]);
            for (long i = 0; i < n; i++)
            {
                if ((ulong)p[i] >= (ulong)rows)
                {
                    throw new ArgumentException($"{names[j]} id {p[i]} at position {i} is outside the table's {rows} rows (0 .. {rows - 1}).", nameof(ids));
                }
            }
        }
    }
}
