using System.IO.Compression;
using Dien.Checkpoints;
using Dien.Tests.Training;
using FluentAssertions;
using TorchSharp;
using Xunit;

namespace Dien.Tests.Checkpoints;

[Collection("Sequential")]
public class CheckpointTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("dien-ckpt-").FullName;

    public CheckpointTests() => ModelKinds.Register("tiny", o => new TinyCtrModel(o));

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static float[] Weights(TinyCtrModel model) =>
        model.parameters().SelectMany(p => p.detach().data<float>().ToArray()).ToArray();

    [Fact]
    public void Round_trip_restores_weights_kind_options_and_data_and_leaves_no_temporary_files()
    {
        string path = Path.Combine(_folder, "model.dien");
        torch.manual_seed(1);
        using var model = new TinyCtrModel(TinyCtrModel.SmallOptions());
        var data = new CheckpointData
        {
            Items = new Dictionary<string, long> { ["B00X"] = 3, ["B01Y"] = 4 },
            Users = new Dictionary<string, long> { ["u1"] = 1 },
            ItemCategories = new Dictionary<long, long> { [3] = 2, [4] = 5 },
            MaxHistoryLength = 7,
        };
        Checkpoint.Save(path, model, data);
        Checkpoint.Save(path, model, data); // replacing an existing checkpoint works too

        using var loaded = (TinyCtrModel)Checkpoint.LoadModel(path);
        Weights(loaded).Should().Equal(Weights(model));
        loaded.training.Should().BeFalse();
        var contents = Checkpoint.Read(path);
        contents.ModelKind.Should().Be("tiny");
        contents.FormatVersion.Should().Be(Checkpoint.FormatVersion);
        contents.Options.ItemVocabularySize.Should().Be(40);
        contents.Data.Items["B01Y"].Should().Be(4);
        contents.Data.Users["u1"].Should().Be(1);
        contents.Data.Categories.Should().BeEmpty();
        contents.Data.ItemCategories.Should().Equal(new Dictionary<long, long> { [3] = 2, [4] = 5 });
        contents.Data.MaxHistoryLength.Should().Be(7);
        contents.Sha256.Should().Be(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path))).ToLowerInvariant());
        Directory.GetFiles(_folder).Should().ContainSingle();
        using var zip = ZipFile.OpenRead(path);
        zip.Entries.Select(e => e.FullName).Should().Contain(new[] { "manifest.json", "options.json", "data.json", "weights.bin" });
    }

    [Fact]
    public void Data_that_do_not_fit_the_model_are_refused_before_anything_is_written()
    {
        string path = Path.Combine(_folder, "model.dien");
        using var model = new TinyCtrModel(TinyCtrModel.SmallOptions());
        var unknownItemWithCategory = new CheckpointData { ItemCategories = new Dictionary<long, long> { [0] = 3 } };
        ((Action)(() => Checkpoint.Save(path, model, unknownItemWithCategory))).Should().Throw<ArgumentException>().WithMessage("*ItemCategories[0] = 3*unknown item*");
        var outOfRange = new CheckpointData { Items = new Dictionary<string, long> { ["B00X"] = 40 } };
        ((Action)(() => Checkpoint.Save(path, model, outOfRange))).Should().Throw<ArgumentException>().WithMessage("*Items['B00X'] = 40*1 .. 39*");
        File.Exists(path).Should().BeFalse();
    }

    [Fact]
    public void Mismatched_options_are_rejected_naming_the_file_and_the_option()
    {
        string path = Path.Combine(_folder, "model.dien");
        using var model = new TinyCtrModel(TinyCtrModel.SmallOptions());
        Checkpoint.Save(path, model);
        var other = TinyCtrModel.SmallOptions();
        other.ItemEmbeddingSize = 8;
        using var different = new TinyCtrModel(other);
        var act = () => Checkpoint.LoadInto(path, different, null);
        act.Should().Throw<CheckpointException>().WithMessage($"*{path}*ItemEmbeddingSize is 4 in the file but 8 in the model*");
    }

    [Fact]
    public void Truncated_files_are_rejected_and_a_failed_write_keeps_the_previous_checkpoint()
    {
        string path = Path.Combine(_folder, "model.dien");
        using var model = new TinyCtrModel(TinyCtrModel.SmallOptions());
        Checkpoint.Save(path, model);
        var bytes = File.ReadAllBytes(path);

        string truncated = Path.Combine(_folder, "truncated.dien");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var act = () => Checkpoint.LoadModel(truncated);
        act.Should().Throw<CheckpointException>().WithMessage("*truncated.dien*");

        string missing = Path.Combine(_folder, "absent.dien");
        ((Action)(() => Checkpoint.LoadModel(missing))).Should().Throw<CheckpointException>().WithMessage("*absent.dien*does not exist*");

        // A save that fails (a map that cannot be enumerated) must not touch the old file.
        var broken = new CheckpointData { Items = new ThrowingMap() };
        ((Action)(() => Checkpoint.Save(path, model, broken))).Should().Throw<InvalidOperationException>();
        File.ReadAllBytes(path).Should().Equal(bytes);
        Directory.GetFiles(_folder).Should().HaveCount(2, "no temporary file is left behind");
    }

    [Fact]
    public void Other_format_versions_and_damaged_entries_are_rejected()
    {
        string path = Path.Combine(_folder, "model.dien");
        using var model = new TinyCtrModel(TinyCtrModel.SmallOptions());
        Checkpoint.Save(path, model);
        Rewrite(path, "manifest.json", s => s.Replace("\"FormatVersion\": 2", "\"FormatVersion\": 7"));
        ((Action)(() => Checkpoint.LoadModel(path))).Should().Throw<CheckpointException>().WithMessage("*format version is 7*reads versions 1 to 2*newer release*");

        Checkpoint.Save(path, model);
        Rewrite(path, "options.json", s => s.Replace("\"Alpha\": 0.1", "\"Alpha\": 0.2"));
        ((Action)(() => Checkpoint.LoadModel(path))).Should().Throw<CheckpointException>().WithMessage("*options.json*damaged*");
    }

    private static void Rewrite(string path, string entry, Func<string, string> change)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Update);
        var old = zip.GetEntry(entry)!;
        string text;
        using (var reader = new StreamReader(old.Open()))
        {
            text = reader.ReadToEnd();
        }

        old.Delete();
        using var writer = new StreamWriter(zip.CreateEntry(entry).Open());
        writer.Write(change(text));
    }

    private sealed class ThrowingMap : IReadOnlyDictionary<string, long>
    {
        public long this[string key] => throw new InvalidOperationException("unreadable");

        public IEnumerable<string> Keys => throw new InvalidOperationException("unreadable");

        public IEnumerable<long> Values => throw new InvalidOperationException("unreadable");

        public int Count => 1;

        public bool ContainsKey(string key) => throw new InvalidOperationException("unreadable");

        public IEnumerator<KeyValuePair<string, long>> GetEnumerator() => throw new InvalidOperationException("unreadable");

        public bool TryGetValue(string key, out long value) => throw new InvalidOperationException("unreadable");

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
