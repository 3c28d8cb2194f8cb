using Dien.Data.Converters;
using Parquet;
using Parquet.Schema;

namespace Dien.Data.Events;

/// <summary>
/// Streams one Parquet file into an <see cref="EventTable"/>, one row group at a time (Parquet.Net), reading
/// only the mapped columns. Column types are checked against the mapping before any row is read.
/// </summary>
internal static class ParquetEventSource
{
    /// <summary>The most rows of one row group read at once (writers use 1M or fewer; a footer claiming billions is damaged).</summary>
    private const long MaxRowsPerGroup = 1L << 26;

    private enum Kind
    {
        Text,
        Integer,
        Boolean,
        Timestamp,
    }

    /// <summary>Adds the file's rows to <paramref name="table"/>.</summary>
    /// <exception cref="DataFormatException">Not a readable Parquet file, a missing or mistyped column, or an unreadable row group (never skipped); a bad row unless skipped.</exception>
    public static void Read(string path, EventTable table, ConverterSupport.BadLines bad) =>
        ReadAsync(path, table, bad).GetAwaiter().GetResult();

    private static async Task ReadAsync(string path, EventTable table, ConverterSupport.BadLines bad)
    {
        ParquetReader reader;
        try
        {
            reader = await ParquetReader.CreateAsync(path).ConfigureAwait(false);
        }
        catch (Exception e) when (Unreadable(e))
        {
            throw new DataFormatException(path, "footer", 0, $"not a readable Parquet file ({e.GetType().Name}: {e.Message})");
        }

        await using (reader.ConfigureAwait(false))
        {
            var c = table.Columns;
            var roles = new (string? Name, string Role, Kind[] Allowed)[]
            {
                (c.User, "user", [Kind.Text, Kind.Integer]),
                (c.Item, "item", [Kind.Text, Kind.Integer]),
                (c.Time, "time", [Kind.Timestamp, Kind.Integer, Kind.Text]),
                (c.Category, "category", [Kind.Text, Kind.Integer]),
                (c.Behaviour, "behaviour", [Kind.Text, Kind.Integer]),
                (c.Label, "label", [Kind.Boolean, Kind.Integer, Kind.Text]),
            };
            (DataField Field, Kind Kind)?[] fields;
            try
            {
                fields = roles.Select(r => r.Name is null ? ((DataField Field, Kind Kind)?)null : Field(reader.Schema, r.Name, r.Role, r.Allowed, path)).ToArray();
            }
            catch (Exception e) when (Unreadable(e))
            {
                throw new DataFormatException(path, "schema", 0, $"cannot be read ({e.GetType().Name}: {e.Message})");
            }

            long rowBase = 0;
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                Column?[] columns;
                int rows;
                try
                {
                    var group = reader.OpenRowGroupReader(g);
                    rows = group.RowCount <= MaxRowsPerGroup
                        ? (int)group.RowCount
                        : throw new InvalidDataException($"the row group claims {group.RowCount} rows, more than the {MaxRowsPerGroup} this reader holds at once (a damaged footer, or a row group to rewrite smaller)");
                    columns = new Column?[fields.Length];
                    for (int f = 0; f < fields.Length; f++)
                    {
                        columns[f] = fields[f] is { } field ? await Column.ReadAsync(group, field.Field, field.Kind, rows).ConfigureAwait(false) : null;
                    }
                }
                catch (Exception e) when (Unreadable(e))
                {
                    throw new DataFormatException(path, $"row group {g + 1}", rowBase + 1, $"cannot be read ({e.GetType().Name}: {e.Message})");
                }

                for (int i = 0; i < rows; i++)
                {
                    if (Add(table, columns, roles, i) is { } problem)
                    {
                        bad.Report($"row group {g + 1}, row {i + 1}", rowBase + i + 1, problem);
                    }
                }

                rowBase += rows;
            }

            table.Lines += rowBase;
        }
    }

    /// <summary>Adds row <paramref name="i"/>, or returns why it is bad (naming the column and the value).</summary>
    private static string? Add(EventTable table, Column?[] columns, (string? Name, string Role, Kind[] Allowed)[] roles, int i)
    {
        var unit = table.Columns.TimeUnit;
        string Named(int f) => $"column {Quote.Of(roles[f].Name)} ({roles[f].Role})";
        var (user, item, time) = (columns[0]!, columns[1]!, columns[2]!);
        if (user.IsNullOrEmpty(i))
        {
            return $"{Named(0)} is {(user.IsNull(i) ? "null" : "empty")}: a null id";
        }

        if (item.IsNullOrEmpty(i))
        {
            return $"{Named(1)} is {(item.IsNull(i) ? "null" : "empty")}: a null id";
        }

        long? ms = time.IsNull(i) ? null : time.Kind switch
        {
            Kind.Timestamp => time.Stamps![i],
            Kind.Integer => EventValues.Time(time.Numbers![i]!.Value, unit),
            _ => EventValues.Time(time.Texts![i]!.Trim(), unit),
        };
        if (ms is null)
        {
            return $"{Named(2)} value {time.Show(i)} is {EventValues.TimeRule(unit)}";
        }

        var role = EventTable.Role.Target | EventTable.Role.History;
        if (columns[4] is { } behaviour)
        {
            role = table.RoleOf(behaviour.Kind == Kind.Integer ? behaviour.Show(i) : behaviour.Texts![i] ?? string.Empty);
        }

        if (columns[5] is { } label)
        {
            bool? clicked = label.IsNull(i) ? null : label.Kind switch
            {
                Kind.Boolean => label.Flags![i],
                Kind.Integer => EventValues.Label(label.Numbers![i]!.Value),
                _ => EventValues.Label(label.Texts![i]!),
            };
            if (clicked is not bool click)
            {
                return $"{Named(5)} value {label.Show(i)} is {EventValues.LabelRule}";
            }

            role = click ? role | EventTable.Role.Clicked : role & ~EventTable.Role.History;
        }

        if (!EventTable.IsUsed(role))
        {
            table.CountUnused();
            return null;
        }

        int category = columns[3] is { } cat && !cat.IsNullOrEmpty(i) ? cat.Intern(table.Categories, i) : -1;
        table.Add(user.Intern(table.Users, i), item.Intern(table.Items, i), category, ms.Value, role);
        return null;
    }

    private static (DataField Field, Kind Kind) Field(ParquetSchema schema, string name, string role, Kind[] allowed, string path)
    {
        var top = schema.Fields.OfType<DataField>().ToList();
        var field = top.FirstOrDefault(f => f.Name == name);
        if (field is null)
        {
            var folded = top.Where(f => f.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).ToList();
            field = folded.Count == 1 ? folded[0] : null;
        }

        if (field is null)
        {
            throw new DataFormatException(path, "schema", 0, $"no column {Quote.Of(name)} ({role}) among the file's top-level columns ({string.Join(", ", schema.Fields.Select(f => Quote.Of(f.Name)))})");
        }

        var kind = KindOf(field);
        if (field.IsArray || kind is null || !allowed.Contains(kind.Value))
        {
            string type = field.IsArray ? $"a list of {field.ClrType.Name}" : field.ClrType == typeof(ReadOnlyMemory<char>) ? "String" : field.ClrType.Name;
            string wanted = role switch
            {
                "time" => "timestamps, dates, integers (unix time) or text",
                "label" => "booleans, the integers 0 and 1, or text",
                _ => "text or integers",
            };
            throw new DataFormatException(path, "schema", 0, $"column {Quote.Of(field.Name)} ({role}) is {type}; the {role} column must hold {wanted}");
        }

        return (field, kind.Value);
    }

    private static Kind? KindOf(DataField field)
    {
        var t = field.ClrType;
        if (t == typeof(string) || t == typeof(ReadOnlyMemory<char>))
        {
            return Kind.Text;
        }

        if (t == typeof(long) || t == typeof(int) || t == typeof(short) || t == typeof(sbyte) || t == typeof(byte) || t == typeof(ushort) || t == typeof(uint))
        {
            return Kind.Integer;
        }

        if (t == typeof(bool))
        {
            return Kind.Boolean;
        }

        return t == typeof(DateTime) || t == typeof(DateTimeOffset) || t == typeof(DateOnly) ? Kind.Timestamp : null;
    }

    private static bool Unreadable(Exception e) => e is not (DataFormatException or OutOfMemoryException or OperationCanceledException);

    /// <summary>One column of one row group, as text, integers, booleans or unix milliseconds; null entries are nulls.</summary>
    private sealed class Column
    {
        private Column(Kind kind) => Kind = kind;

        public Kind Kind { get; }

        public string?[]? Texts { get; private init; }

        public long?[]? Numbers { get; private init; }

        public bool?[]? Flags { get; private init; }

        public long?[]? Stamps { get; private init; }

        public bool IsNull(int i) => Kind switch
        {
            Kind.Text => Texts![i] is null,
            Kind.Integer => Numbers![i] is null,
            Kind.Boolean => Flags![i] is null,
            _ => Stamps![i] is null,
        };

        public bool IsNullOrEmpty(int i) => IsNull(i) || (Kind == Kind.Text && Texts![i]!.Length == 0);

        public int Intern(KeyInterner keys, int i) => Kind == Kind.Integer ? keys.Of(Numbers![i]!.Value) : keys.Of(Texts![i]!);

        public string Show(int i) => IsNull(i) ? "null" : Kind switch
        {
            Kind.Text => Quote.Of(Texts![i]),
            Kind.Integer => Numbers![i]!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Kind.Boolean => Flags![i]!.Value ? "true" : "false",
            _ => Stamps![i]!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };

        public static async Task<Column> ReadAsync(ParquetRowGroupReader group, DataField field, Kind kind, int rows)
        {
            var t = field.ClrType;
            switch (kind)
            {
                case Kind.Text:
                    var texts = new string?[rows];
                    await group.ReadAsync(field, texts.AsMemory()).ConfigureAwait(false);
                    return new Column(kind) { Texts = texts };
                case Kind.Boolean:
                    return new Column(kind) { Flags = await Values<bool>(group, field, rows).ConfigureAwait(false) };
                case Kind.Integer:
                    return new Column(kind)
                    {
                        Numbers = t == typeof(long) ? await Values<long>(group, field, rows).ConfigureAwait(false)
                            : t == typeof(int) ? Widen(await Values<int>(group, field, rows).ConfigureAwait(false), v => v)
                            : t == typeof(uint) ? Widen(await Values<uint>(group, field, rows).ConfigureAwait(false), v => v)
                            : t == typeof(short) ? Widen(await Values<short>(group, field, rows).ConfigureAwait(false), v => v)
                            : t == typeof(ushort) ? Widen(await Values<ushort>(group, field, rows).ConfigureAwait(false), v => v)
                            : t == typeof(sbyte) ? Widen(await Values<sbyte>(group, field, rows).ConfigureAwait(false), v => v)
                            : Widen(await Values<byte>(group, field, rows).ConfigureAwait(false), v => v),
                    };
                default:
                    return new Column(kind)
                    {
                        Stamps = t == typeof(DateTime) ? Widen(await Values<DateTime>(group, field, rows).ConfigureAwait(false), EventValues.Time)
                            : t == typeof(DateTimeOffset) ? Widen(await Values<DateTimeOffset>(group, field, rows).ConfigureAwait(false), v => v.ToUnixTimeMilliseconds())
                            : Widen(await Values<DateOnly>(group, field, rows).ConfigureAwait(false), v => EventValues.Time(v.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc))),
                    };
            }
        }

        private static long?[] Widen<T>(T?[] values, Func<T, long> widen)
            where T : struct
        {
            var result = new long?[values.Length];
            for (int i = 0; i < values.Length; i++)
            {
                result[i] = values[i] is { } v ? widen(v) : null;
            }

            return result;
        }

        private static async Task<T?[]> Values<T>(ParquetRowGroupReader group, DataField field, int rows)
            where T : struct
        {
            var values = new T?[rows];
            if (field.IsNullable)
            {
                await group.ReadAsync<T>(field, values.AsMemory()).ConfigureAwait(false);
                return values;
            }

            var plain = new T[rows];
            await group.ReadAsync<T>(field, plain.AsMemory()).ConfigureAwait(false);
            for (int i = 0; i < rows; i++)
            {
                values[i] = plain[i];
            }

            return values;
        }
    }
}
