using System.Globalization;
using Dien.Data;
using Dien.Data.Batching;
using Dien.Data.Converters;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Data;

/// <summary>
/// <see cref="EventLogConverter"/>: the same log in Parquet and CSV gives the same pairs; bad rows are named by
/// file, row and column; the mapping and the options are checked by name.
/// </summary>
public sealed class EventLogTests
{
    private static readonly EventColumns Columns = EventColumns.Parse("user=user_id,item=item_id,time=ts,category=category");

    public static TheoryData<string> Mappings() => new()
    {
        "user=user_id,item=item_id,time=ts,category=category",
        "user=user_id,item=item_id,time=ts,category=category,behaviour=behaviour,targets=pv,history=pv|cart|buy",
        "user=user_id,item=item_id,time=ts,behaviour=behaviour,targets=pv|cart,history=pv|buy,label=clicked",
    };

    [Theory]
    [MemberData(nameof(Mappings))]
    public void A_log_written_with_Parquet_Net_gives_the_same_pairs_as_the_same_log_in_CSV(string mapping)
    {
        using var folder = new TempFolder();
        var log = new EventLogFixture();
        string csv = log.WriteCsv(Path.Combine(folder.Path, "events.csv"));
        string parquet = log.WriteParquet(Path.Combine(folder.Path, "events.parquet"), rowGroup: 64);
        var columns = EventColumns.Parse(mapping);
        foreach (var options in new[] { new ConversionOptions(), new ConversionOptions { SplitByTime = TimeSplit.LastPeriod(TimeSpan.FromHours(12)) } })
        {
            var fromCsv = EventLogConverter.Convert(csv, columns, options);
            var fromParquet = EventLogConverter.Convert(parquet, columns, options);
            fromCsv.Train.Count.Should().BeGreaterThan(50);
            fromCsv.Test.Should().NotBeEmpty();
            SameData(fromParquet, fromCsv);

            // The same log as a folder of part files (Parquet and TSV parts, read in ordinal order) gives it too.
            using var parts = new TempFolder();
            int half = log.Rows.Count / 2;
            log.WriteParquet(Path.Combine(parts.Path, "part-0.parquet"), 0, half, rowGroup: 50);
            log.WriteCsv(Path.Combine(parts.Path, "part-1.tsv"), half, delimiter: '\t');
            File.WriteAllText(Path.Combine(parts.Path, "_SUCCESS"), string.Empty);
            SameData(EventLogConverter.Convert(parts.Path, columns, options), fromCsv);
        }
    }

    [Theory]
    [InlineData(3, 1)] // runs of 8 events: every user (12 events) is a run alone, larger than the budget
    [InlineData(4, 3)] // runs of 48 events: four users to a run
    public void A_log_spilled_to_disk_gives_the_same_pairs_as_one_held_in_memory(int chunkBits, int memoryChunks)
    {
        using var folder = new TempFolder();
        var log = new EventLogFixture();
        string parquet = log.WriteParquet(Path.Combine(folder.Path, "events.parquet"), rowGroup: 64);
        var columns = EventColumns.Parse("user=user_id,item=item_id,time=ts,category=category,behaviour=behaviour,targets=pv,history=pv|cart|buy");
        foreach (var options in new[] { new ConversionOptions(), new ConversionOptions { SplitByTime = TimeSplit.LastPeriod(TimeSpan.FromHours(12)) } })
        {
            var expected = EventLogConverter.Convert(parquet, columns, options);
            var bad = new ConverterSupport.BadLines(options.Read);
            string runs = $"dien-users-{Environment.ProcessId}-*";
            string? spill;
            using (var table = Dien.Data.Events.EventLogReader.Read(parquet, columns, bad, chunkBits, memoryChunks))
            {
                table.SpilledEvents.Should().BeGreaterThan(table.Events / 2, "the small budget spills most of the log");
                spill = table.SpillPath;
                File.Exists(spill).Should().BeTrue();
                SameData(EventLogConverter.Build(table, options, bad), expected);
                Directory.GetFiles(Path.GetTempPath(), runs).Should().BeEmpty("each run's file is deleted once its users are handed out");
            }

            File.Exists(spill).Should().BeFalse("disposing the table deletes its spill file");
        }
    }

    [Fact]
    public void The_item_counts_draw_the_negatives_the_pool_of_every_behaviour_drew()
    {
        using var folder = new TempFolder();
        string csv = new EventLogFixture().WriteCsv(Path.Combine(folder.Path, "events.csv"));
        var data = EventLogConverter.Convert(csv, Columns);
        var pool = data.ItemOccurrences.SelectMany((count, item) => Enumerable.Repeat((long)item, (int)count)).ToArray();
        pool.Should().HaveCount(new EventLogFixture().Rows.Count);
        foreach (var mode in new[] { NegativeSampling.Popularity, NegativeSampling.Uniform })
        {
            var fromCounts = data.CreateNegativeSampler(mode);
            var fromPool = new NegativeSampler(pool.Select(item => (item, data.ItemCategories[item])), mode);
            var (a, b) = (new Random(3), new Random(3));
            var drawn = Enumerable.Range(0, 500).Select(i => fromCounts.Draw(pool[i % pool.Length], a)).ToArray();
            drawn.Should().Equal(Enumerable.Range(0, 500).Select(i => fromPool.Draw(pool[i % pool.Length], b)));
            drawn.Select(d => d.Item).Distinct().Should().HaveCountGreaterThan(10);
        }
    }

    [Fact]
    public void The_validation_cut_found_in_counting_passes_is_the_one_a_sort_gives()
    {
        var random = new Random(11);
        foreach (int n in new[] { 1, 2, 50, 3000 })
        {
            // Clustered times with many ties and a few far outliers, so that bins must narrow several times.
            var times = Enumerable.Range(0, n).Select(_ => random.Next(5) switch
            {
                0 => 1_500_000_000_000L + random.Next(3),
                1 => long.MinValue + random.Next(2),
                2 => long.MaxValue - random.Next(2),
                _ => 1_500_000_000_000L + random.NextInt64(86_400_000),
            }).ToArray();
            var below = times.Where(t => t < long.MaxValue).Order().ToArray();
            foreach (int k in new[] { 1, 2, below.Length / 3, below.Length / 2, below.Length }.Where(k => k >= 1 && k <= below.Length).Distinct())
            {
                TimeSplit.LargestBelow(times, long.MinValue, long.MaxValue, k, below.Length, collect: 16).Should().Be(below[^k], $"k = {k} of {below.Length}");
            }
        }
    }

    [Fact]
    public void Pairs_follow_the_converters_rules()
    {
        using var folder = new TempFolder();
        string csv = folder.File("log.csv",
            "user,item,time,type,category\n"
            + "a,x,2017-11-25T10:00:00Z,pv,c1\n"
            + "a,y,2017-11-25T09:00:00Z,buy,c2\n"
            + "a,z,2017-11-25T11:00:00Z,fav,c1\n"
            + "a,w,2017-11-25T12:00:00Z,pv,\n"
            + "b,x,1511600000,pv,c9\n"
            + "b,v,1511600000,pv,c3\n");
        var columns = EventColumns.Parse("user=user,item=item,time=time,category=category,behaviour=type,targets=pv,history=pv|buy");
        var data = EventLogConverter.Convert(csv, columns, new ConversionOptions { TestUserFraction = 0 });
        var a = data.Users.IdOf("a");
        string Key(long item) => data.Items.Entries.Single(e => e.Value == item).Key;
        var positives = data.Train.Where(s => s.User == a && s.Label == 1).ToList();
        // a's order: y (buy, history only), x (pv), z (fav: neither target nor history, unused), w (pv).
        positives.Select(s => Key(s.TargetItem)).Should().Equal("x", "w");
        positives[0].HistoryItems.Select(Key).Should().Equal("y");
        positives[1].HistoryItems.Select(Key).Should().Equal("y", "x");
        positives[1].TargetCategory.Should().Be(0, "w has no category");
        data.ItemCategories[data.Items.IdOf("x")].Should().Be(data.Categories.IdOf("c1"), "an item's category is the first the log gives it");
        data.Train.Where(s => s.User == a && s.Label == 0).Should().HaveCount(2).And.OnlyContain(s => s.TargetItem != data.Items.IdOf("x") && s.TargetItem != data.Items.IdOf("y"));
        // b's two rows share a time: file order breaks the tie.
        var b = data.Train.Single(s => s.User == data.Users.IdOf("b") && s.Label == 1 && s.HistoryLength == 1);
        Key(b.TargetItem).Should().Be("v");
        data.Items.Contains("z").Should().BeFalse("an unused row adds nothing");

        var labelled = EventLogConverter.Convert(folder.File("clicks.csv", "u,i,t,click\n1,5,1,1\n1,6,2,0\n1,7,3,true\n1,8,4,false\n"),
            EventColumns.Parse("user=u,item=i,time=t,label=click"), new ConversionOptions { TestUserFraction = 0 });
        // The log's own labels, no drawn negatives; non-clicks stay out of histories.
        labelled.Train.Select(s => (s.Label, s.HistoryLength)).Should().Equal((1f, 0), (0f, 1), (1f, 1), (0f, 2));
        labelled.Train[3].HistoryItems.Should().Equal(labelled.Items.IdOf("5"), labelled.Items.IdOf("7"));
    }

    [Fact]
    public void Quoted_lines_give_the_values_the_plain_lines_give()
    {
        using var folder = new TempFolder();
        var log = new EventLogFixture(users: 8, eventsPerUser: 30);
        string plain = log.WriteCsv(Path.Combine(folder.Path, "plain.csv"));
        var lines = File.ReadAllLines(plain);
        static string Quoted(string line) => string.Join(',', line.Split(',').Select(f => $"\"{f.Replace("\"", "\"\"", StringComparison.Ordinal)}\""));
        string quoted = folder.File("quoted.csv", string.Join('\n', lines.Select((line, i) => i % 3 == 1 ? Quoted(line) : line)) + "\n");
        var columns = EventColumns.Parse("user=user_id,item=item_id,time=ts,category=category,behaviour=behaviour,targets=pv");
        SameData(EventLogConverter.Convert(quoted, columns), EventLogConverter.Convert(plain, columns));

        // A quoted field holds the delimiter and quotes; a quoted line is checked for its field count as any line.
        string special = folder.File("special.csv", "user_id,item_id,ts\n\"a,\"\"b\"\"\",5,1511600000\nc,\"6\",1511600001\n\"d\",7\n\"e,8,1511600002\n");
        ReadSummary? summary = null;
        var data = EventLogConverter.Convert(special, Columns with { Category = null }, new ConversionOptions { Read = new ReadOptions { SkipBadLines = true, Completed = new CallbackProgress<ReadSummary>(s => summary = s) } });
        data.Users.Entries.Keys.Should().BeEquivalentTo(["a,\"b\"", "c"]);
        data.Items.Entries.Keys.Should().BeEquivalentTo(["5", "6"], "a quoted number is the number");
        summary!.SkippedLines.Should().Be(2);
        summary.FirstProblem.Should().Be("special.csv line 4: expected 3 fields, as the header, but found 2");
        var unclosed = () => EventLogConverter.Convert(special, Columns with { Category = null });
        unclosed.Should().Throw<DataFormatException>().WithMessage("*special.csv, line 4: expected 3 fields*");
        File.WriteAllText(special, "user_id,item_id,ts\n\"e,8,1511600002\n");
        unclosed.Should().Throw<DataFormatException>().WithMessage("*special.csv, line 2: a quoted field is not closed");
    }

    [Fact]
    public void Errors_name_the_file_the_row_and_the_column()
    {
        using var folder = new TempFolder();
        var log = new EventLogFixture(users: 5, eventsPerUser: 20);
        var rows = log.Rows.ToList();
        rows[57] = rows[57] with { User = null! };
        string parquet = EventLogFixture.Write(Path.Combine(folder.Path, "nulls.parquet"), rows, rowGroup: 40, nullableUser: true);
        var read = () => EventLogConverter.Convert(parquet, Columns);
        var error = read.Should().Throw<DataFormatException>().Which;
        error.Message.Should().Be($"{parquet}, row group 2, row 18: column 'user_id' (user) is null: a null id");
        (error.Path, error.LineNumber, error.Place).Should().Be((parquet, 58L, "row group 2, row 18"));
        ReadSummary? summary = null;
        var skipped = EventLogConverter.Convert(parquet, Columns, new ConversionOptions { Read = new ReadOptions { SkipBadLines = true, Completed = new CallbackProgress<ReadSummary>(s => summary = s) } });
        summary!.SkippedLines.Should().Be(1);
        summary.FirstProblem.Should().Be("nulls.parquet row group 2, row 18: column 'user_id' (user) is null: a null id");
        summary.Lines.Should().Be(100);
        skipped.Train.Count.Should().BePositive();

        var missing = () => EventLogConverter.Convert(parquet, Columns with { Time = "timestamp" });
        missing.Should().Throw<DataFormatException>().WithMessage($"{parquet}, schema: no column 'timestamp' (time) among the file's top-level columns ('user_id', 'item_id', 'category', 'ts', 'behaviour', 'clicked')");
        var mistyped = () => EventLogConverter.Convert(parquet, Columns with { Time = "clicked" });
        mistyped.Should().Throw<DataFormatException>().WithMessage($"{parquet}, schema: column 'clicked' (time) is Boolean; the time column must hold timestamps, dates, integers (unix time) or text");
        var mistypedId = () => EventLogConverter.Convert(parquet, Columns with { Item = "ts", Time = "item_id" });
        mistypedId.Should().Throw<DataFormatException>().WithMessage("*column 'ts' (item) is DateTime; the item column must hold text or integers");

        string csv = folder.File("bad.csv", "user_id,item_id,ts,category\nu1,1,1511600000,3\nu1,2,yesterday,3\nu2,,1511600000,3\nu2,4,1511600000\n");
        var csvError = () => EventLogConverter.Convert(csv, Columns);
        csvError.Should().Throw<DataFormatException>().WithMessage($"{csv}, line 3: column 'ts' (time) value 'yesterday' is not a time*");
        var counted = EventLogConverter.Convert(csv, Columns, new ConversionOptions { Read = new ReadOptions { SkipBadLines = true } });
        counted.Summary.SkippedLines.Should().Be(3);
        counted.Summary.FirstProblem.Should().StartWith("bad.csv line 3: column 'ts' (time)");
        var noHeader = () => EventLogConverter.Convert(folder.File("h.csv", "uid,item_id,ts\nu1,1,5\n"), Columns);
        noHeader.Should().Throw<DataFormatException>().WithMessage("*h.csv, line 1: no column 'user_id' in the header (it has 'uid', 'item_id', 'ts')");
        var label = () => EventLogConverter.Convert(folder.File("l.csv", "user_id,item_id,ts,y\nu1,1,5,1\nu1,2,6,2\n"), Columns with { Category = null, Label = "y" });
        label.Should().Throw<DataFormatException>().WithMessage("*l.csv, line 3: column 'y' (label) value '2' is not a click label (0, 1, false or true)");
        var notParquet = () => EventLogConverter.Convert(folder.File("fake.parquet", "user_id,item_id\n"), Columns);
        notParquet.Should().Throw<DataFormatException>().WithMessage("*fake.parquet, footer: not a readable Parquet file*");
        var empty = () => EventLogConverter.Convert(Directory.CreateDirectory(Path.Combine(folder.Path, "empty")).FullName, Columns);
        empty.Should().Throw<FileNotFoundException>().WithMessage("*holds no part file*");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_Taobao_file_read_as_an_event_log_gives_the_Taobao_converters_pairs(bool byTime)
    {
        // No header, so columns are positions; no two events of a user share a time (the converters break such ties differently).
        var random = new Random(5);
        var lines = new List<string>();
        for (int u = 1; u <= 25; u++)
        {
            long time = 1_511_500_000 + random.Next(100_000);
            for (int e = 0; e < 3 + random.Next(15); e++)
            {
                long item = 1000 + random.Next(60);
                time += 1 + random.Next(20_000);
                lines.Add($"{u},{item},{item % 9},{(random.Next(4) == 0 ? "cart" : "pv")},{time}");
            }
        }

        using var folder = new TempFolder();
        string file = folder.File("UserBehavior.csv", string.Join('\n', lines.OrderBy(_ => random.Next())) + "\n");
        var options = new ConversionOptions { SplitByTime = byTime ? TimeSplit.LastPeriod(TimeSpan.FromHours(8)) : null };
        var expected = TaobaoConverter.Convert([file], options);
        var actual = EventLogConverter.Convert(file, EventColumns.Parse("user=1,item=2,category=3,behaviour=4,time=5,targets=pv,header=no"), options);
        actual.Users.Entries.Should().BeEquivalentTo(expected.Users.Entries);
        actual.Items.Entries.Should().BeEquivalentTo(expected.Items.Entries);
        actual.ItemCategories.Should().Equal(expected.ItemCategories);
        foreach (var (mine, theirs) in new[] { (actual.Train, expected.Train), (actual.Validation, expected.Validation), (actual.Test, expected.Test) })
        {
            mine.Should().BeEquivalentTo(theirs, o => o.WithStrictOrdering().Excluding(s => s.HistoryLabels), "the same pair building");
        }

        expected.Test.Should().NotBeEmpty();
        FluentActions.Invoking(() => EventColumns.Parse("user=user,item=2,time=5,header=no").EnsureValid()).Should().Throw<DataOptionsException>().WithMessage("*column 'user' must be a 1-based position*");
        FluentActions.Invoking(() => EventLogConverter.Convert(file, EventColumns.Parse("user=1,item=2,time=7,header=no"))).Should().Throw<DataFormatException>()
            .WithMessage("*UserBehavior.csv, line 1: column 7 is mapped but the first line has 5 fields*");
    }

    [Fact]
    public void The_mapping_and_the_split_are_read_and_checked_by_name()
    {
        var columns = EventColumns.Parse(" user = uid , item=sku,time=ts,behavior=type,targets=pv,history=pv|buy|cart,label=y,timeunit=ms");
        columns.Should().BeEquivalentTo(new EventColumns
        {
            User = "uid", Item = "sku", Time = "ts", Behaviour = "type", TargetBehaviours = ["pv"], HistoryBehaviours = ["pv", "buy", "cart"], Label = "y", TimeUnit = EventTimeUnit.Milliseconds,
        });
        EventColumns.Parse(columns.ToString()).Should().BeEquivalentTo(columns);
        FluentActions.Invoking(() => EventColumns.Parse("user=u,item=i")).Should().Throw<FormatException>().WithMessage("columns: time=<column> is missing*");
        FluentActions.Invoking(() => EventColumns.Parse("user=u,item=i,time=t,colour=c")).Should().Throw<FormatException>().WithMessage("columns: unknown key 'colour'*");
        FluentActions.Invoking(() => EventColumns.Parse("user=u,item=i,time=t,user=v")).Should().Throw<FormatException>().WithMessage("columns: user is given twice.");
        new EventColumns { User = "u", Item = "u", Time = "t", TargetBehaviours = ["pv"] }.Validate().Should().HaveCount(2)
            .And.Contain(e => e.Contains("mapped twice")).And.Contain(e => e.StartsWith("TargetBehaviours = pv: needs a Behaviour column"));

        TimeSplit.Parse("last7d").Last.Should().Be(TimeSpan.FromDays(7));
        TimeSplit.Parse("last36h").Last.Should().Be(TimeSpan.FromHours(36));
        TimeSplit.Parse("2017-12-03").Cut.Should().Be(new DateTimeOffset(2017, 12, 3, 0, 0, 0, TimeSpan.Zero));
        TimeSplit.Parse("2017-12-03T08:00:00+08:00").Cut.Should().Be(new DateTimeOffset(2017, 12, 3, 0, 0, 0, TimeSpan.Zero));
        TimeSplit.Parse("1512259200").Cut.Should().Be(DateTimeOffset.FromUnixTimeSeconds(1512259200));
        FluentActions.Invoking(() => TimeSplit.Parse("lastweek")).Should().Throw<FormatException>().WithMessage("time cut 'lastweek' is not*");
        new ConversionOptions { SplitByTime = new TimeSplit { ValidationFraction = 1 } }.Validate().Should().Equal(
            "SplitByTime: TimeSplit: set exactly one of Cut (an instant) and Last (the log's last period); neither is set.",
            "SplitByTime: ValidationFraction = 1: must be in [0, 1).");

        using var folder = new TempFolder();
        string csv = folder.File("e.csv", "user_id,item_id,ts\nu1,1,1500000000\nu1,2,1500000100\nu2,1,1500000200\n");
        var late = () => EventLogConverter.Convert(csv, Columns with { Category = null }, new ConversionOptions { SplitByTime = TimeSplit.At(new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero)) });
        late.Should().Throw<DataOptionsException>().WithMessage("*SplitByTime: the cut 2020-01-01 00:00:00 UTC leaves nothing to test: *e.csv spans 2017-07-14 02:40:00 .. 2017-07-14 02:43:20 UTC.*");
        string seq = folder.File("Beauty.txt", "1 1 2\n");
        string attrs = folder.File("attrs.json", "{\"1\": [1], \"2\": [2]}");
        var amazon = () => AmazonSequenceConverter.Convert(seq, attrs, new ConversionOptions { SplitByTime = TimeSplit.LastPeriod(TimeSpan.FromDays(1)) });
        amazon.Should().Throw<DataOptionsException>().WithMessage("*the Amazon sequences hold no timestamps*");
    }

    private static void SameData(ConvertedDataset actual, ConvertedDataset expected)
    {
        actual.Users.Entries.Should().BeEquivalentTo(expected.Users.Entries);
        actual.Items.Entries.Should().BeEquivalentTo(expected.Items.Entries);
        actual.Categories.Entries.Should().BeEquivalentTo(expected.Categories.Entries);
        actual.ItemCategories.Should().Equal(expected.ItemCategories);
        actual.ItemOccurrences.Should().Equal(expected.ItemOccurrences);
        actual.Train.Should().BeEquivalentTo(expected.Train, o => o.WithStrictOrdering());
        actual.Validation.Should().BeEquivalentTo(expected.Validation, o => o.WithStrictOrdering());
        actual.Test.Should().BeEquivalentTo(expected.Test, o => o.WithStrictOrdering());
    }
}
