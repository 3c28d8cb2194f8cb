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

            var columns = fields.Select(f => f is { } field ? new Column(field.Field, field.Kind) : null).ToArray();
            long rowBase = 0;
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                int rows;
                try
                {
                    var group = reader.OpenRowGroupReader(g);
                    rows = group.RowCount <= MaxRowsPerGroup
                        ? (int)group.RowCount
                        : throw new InvalidDataException($"the row group claims {group.RowCount} rows, more than the {MaxRowsPerGroup} this reader holds at once (a damaged footer, or a row group to rewrite smaller)");
                    foreach (var column in columns)
                    {
                        if (column is not null)
                        {
                            await column.ReadAsync(group, rows).ConfigureAwait(false);
                        }
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
            Kind.Timestamp => time.Number(i),
            Kind.Integer => EventValues.Time(time.Number(i), unit),
            _ => EventValues.Time(time.Text(i)!.Trim(), unit),
        };
        if (ms is null)
        {
            return $"{Named(2)} value {time.Show(i)} is {EventValues.TimeRule(unit)}";
        }

        var role = EventTable.Role.Target | EventTable.Role.History;
        if (columns[4] is { } behaviour)
        {
            role = table.RoleOf(behaviour.IsNull(i) ? string.Empty : behaviour.Kind == Kind.Integer ? behaviour.Show(i) : behaviour.Text(i)!);
        }

        if (columns[5] is { } label)
        {
            bool? clicked = label.IsNull(i) ? null : label.Kind switch
            {
                Kind.Boolean => label.Number(i) != 0,
                Kind.Integer => EventValues.Label(label.Number(i)),
                _ => EventValues.Label(label.Text(i)!),
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

    /// <summary>
    /// One mapped column, read row group by row group into buffers that are reused (the largest row group's size),
    /// so a file of many row groups leaves no large garbage behind: text, integers, booleans or unix milliseconds,
    /// with a null mask when the column is nullable.
    /// </summary>
    private sealed class Column(DataField field, Kind kind)
    {
        private string?[] _texts = [];
        private long[] _numbers = [];
        private bool[] _nulls = [];
        private Array? _scratch;
        private Array? _nullableScratch;

        public Kind Kind { get; } = kind;

        public string? Text(int i) => _texts[i];

        public long Number(int i) => _numbers[i];

        public bool IsNull(int i) => Kind == Kind.Text ? _texts[i] is null : field.IsNullable && _nulls[i];

        public bool IsNullOrEmpty(int i) => IsNull(i) || (Kind == Kind.Text && _texts[i]!.Length == 0);

        public int Intern(KeyInterner keys, int i) => Kind == Kind.Integer ? keys.Of(_numbers[i]) : keys.Of(_texts[i]!);

        public string Show(int i) => IsNull(i) ? "null" : Kind switch
        {
            Kind.Text => Quote.Of(_texts[i]),
            Kind.Boolean => _numbers[i] != 0 ? "true" : "false",
            _ => _numbers[i].ToString(System.Globalization.CultureInfo.InvariantCulture),
        };

        /// <summary>Reads this column of <paramref name="group"/> (<paramref name="rows"/> rows) into the buffers.</summary>
        public async Task ReadAsync(ParquetRowGroupReader group, int rows)
        {
            if (Kind == Kind.Text)
            {
                Grow(ref _texts, rows);
                await group.ReadAsync(field, _texts.AsMemory(0, rows)).ConfigureAwait(false);
                return;
            }

            Grow(ref _numbers, rows);
            Grow(ref _nulls, rows);
            var t = field.ClrType;
            if (t == typeof(long)) await Read<long>(group, rows, v => v).ConfigureAwait(false);
            else if (t == typeof(int)) await Read<int>(group, rows, v => v).ConfigureAwait(false);
            else if (t == typeof(uint)) await Read<uint>(group, rows, v => v).ConfigureAwait(false);
            else if (t == typeof(short)) await Read<short>(group, rows, v => v).ConfigureAwait(false);
            else if (t == typeof(ushort)) await Read<ushort>(group, rows, v => v).ConfigureAwait(false);
            else if (t == typeof(sbyte)) await Read<sbyte>(group, rows, v => v).ConfigureAwait(false);
            else if (t == typeof(byte)) await Read<byte>(group, rows, v => v).ConfigureAwait(false);
            else if (t == typeof(bool)) await Read<bool>(group, rows, v => v ? 1 : 0).ConfigureAwait(false);
            else if (t == typeof(DateTime)) await Read<DateTime>(group, rows, EventValues.Time).ConfigureAwait(false);
            else if (t == typeof(DateTimeOffset)) await Read<DateTimeOffset>(group, rows, v => v.ToUnixTimeMilliseconds()).ConfigureAwait(false);
            else await Read<DateOnly>(group, rows, v => EventValues.Time(v.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc))).ConfigureAwait(false);
        }

        private async Task Read<T>(ParquetRowGroupReader group, int rows, Func<T, long> widen)
            where T : struct
        {
            if (field.IsNullable)
            {
                var values = Scratch<T?>(ref _nullableScratch, rows);
                await group.ReadAsync<T>(field, values.AsMemory(0, rows)).ConfigureAwait(false);
                for (int i = 0; i < rows; i++)
                {
                    _nulls[i] = values[i] is null;
                    _numbers[i] = values[i] is { } v ? widen(v) : 0;
                }

                return;
            }

            if (typeof(T) == typeof(long))
            {
                await group.ReadAsync<long>(field, _numbers.AsMemory(0, rows)).ConfigureAwait(false);
                return;
            }

            var plain = Scratch<T>(ref _scratch, rows);
            await group.ReadAsync<T>(field, plain.AsMemory(0, rows)).ConfigureAwait(false);
            for (int i = 0; i < rows; i++)
            {
                _numbers[i] = widen(plain[i]);
            }
        }

        private static TValue[] Scratch<TValue>(ref Array? scratch, int rows)
        {
            if (scratch is not TValue[] array || array.Length < rows)
            {
                scratch = array = new TValue[rows];
            }

            return array;
        }

        private static void Grow<TValue>(ref TValue[] buffer, int rows)
        {
            if (buffer.Length < rows)
            {
                buffer = new TValue[rows];
            }
        }
    }
}
