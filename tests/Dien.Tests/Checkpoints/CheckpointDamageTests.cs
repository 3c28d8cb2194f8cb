using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Dien.Checkpoints;
using Dien.Inference;
using Dien.Tests.Training;
using Dien.Training;
using FluentAssertions;
using TorchSharp;
using Xunit;

namespace Dien.Tests.Checkpoints;

/// <summary>Damaged, inconsistent and interrupted checkpoints: always <see cref="CheckpointException"/>, never half-applied.</summary>
[Collection("Sequential")]
public sealed class CheckpointDamageTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("dien-damage-").FullName;

    public CheckpointDamageTests() => ModelKinds.Register("tiny", o => new TinyCtrModel(o));

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static float[] Weights(TinyCtrModel model) =>
        model.parameters().SelectMany(p => p.detach().data<float>().ToArray()).ToArray();

    /// <summary>A training checkpoint (weights, optimizer moments, training state) after two epochs of a tiny model.</summary>
    private string TrainedCheckpoint(string name)
    {
        string path = Path.Combine(_folder, name);
        torch.manual_seed(3);
        using var model = new TinyCtrModel(TinyCtrModel.SmallOptions());
        using var trainer = new CtrTrainer(model, new TrainerOptions { Epochs = 2, LearningRate = 0.05, ReleaseMemoryBetweenEpochs = false });
        trainer.Fit(TinyData.Epochs(TinyData.Batches(1, 3), 3));
        trainer.SaveCheckpoint(path);
        return path;
    }

    /// <summary>Rewrites a checkpoint with one entry replaced and the manifest's hashes made to match: consistent, but wrong.</summary>
    private static void Replace(string path, string entry, byte[] bytes) => CheckpointFiles.Rewrite(path, entries => entries[entry] = bytes);

    private static byte[] Entry(string path, string name)
    {
        using var zip = ZipFile.OpenRead(path);
        using var s = zip.GetEntry(name)!.Open();
        using var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    }

    [Fact]
    public void One_flipped_byte_inside_the_compressed_manifest_is_reported_as_damage_of_that_entry()
    {
        string path = TrainedCheckpoint("m.dien");
        byte[] file = File.ReadAllBytes(path);
        // The manifest is the first entry: its data follows the 30-byte local header, the name and the extra field.
        int start = 30 + BitConverter.ToUInt16(file, 26) + BitConverter.ToUInt16(file, 28);
        int compressed = BitConverter.ToInt32(file, 18);
        int failures = 0;
        for (int i = 0; i < compressed; i++)
        {
            var damaged = (byte[])file.Clone();
            damaged[start + i] ^= 0x10;
            string copy = Path.Combine(_folder, $"flip{i}.dien");
            File.WriteAllBytes(copy, damaged);
            try
            {
                // A flip in the deflate stream's unused padding bits decodes to the same manifest: that one is harmless.
                Checkpoint.Read(copy).ModelKind.Should().Be("tiny");
                Entry(copy, "manifest.json").Should().Equal(Entry(path, "manifest.json"));
            }
            catch (CheckpointException e)
            {
                e.Path.Should().Be(copy);
                e.Message.Should().Contain("manifest.json", "the message names the damaged entry (flip at byte {0}: {1})", i, e.Message);
                failures++;
            }

            File.Delete(copy);
        }

        // Every flip not caught decoded to the identical manifest (asserted above). How many flips are harmless depends
        // on the deflate stream (padding bits, code lengths of unused symbols), so only their share is bounded here.
        failures.Should().BeGreaterThan(compressed * 9 / 10, "nearly every flip changes the manifest, and each of those is caught");
    }

    [Theory]
    [InlineData("training.json", "{\"CompletedEpochs\": -3}", "*training.json*inconsistent*CompletedEpochs is -3*")]
    [InlineData("training.json", "{\"CompletedEpochs\": 2, \"Seed\": \"x\"", "*training.json*unreadable*")]
    [InlineData("optimizer.bin", "\u0001\u0002", "*optimizer.bin*does not fit the optimizer*nothing was changed*")]
    [InlineData("weights.bin", "\u0001\u0002\u0003", "*weights.bin*does not fit the model*nothing was changed*")]
    [InlineData("options.json", "{not json", "*options.json*")]
    public void A_failed_LoadCheckpoint_leaves_model_optimizer_and_trainer_untouched(string entry, string content, string message)
    {
        string good = TrainedCheckpoint("good.dien");
        string bad = Path.Combine(_folder, "bad.dien");
        File.Copy(good, bad);
        Replace(bad, entry, System.Text.Encoding.UTF8.GetBytes(content));

        torch.manual_seed(77);
        using var model = new TinyCtrModel(TinyCtrModel.SmallOptions());
        using var trainer = new CtrTrainer(model, new TrainerOptions { Epochs = 3, LearningRate = 0.05, ReleaseMemoryBetweenEpochs = false });
        trainer.Fit(TinyData.Epochs(TinyData.Batches(2, 2), 5), null); // the optimizer has moments of its own now
        string before = Path.Combine(_folder, "before.dien");
        trainer.SaveCheckpoint(before);
        var weights = Weights(model);

        var act = () => trainer.LoadCheckpoint(bad);

        act.Should().Throw<CheckpointException>().WithMessage(message).Which.Path.Should().Be(bad);
        Weights(model).Should().Equal(weights);
        trainer.CompletedEpochs.Should().Be(3);
        string after = Path.Combine(_folder, "after.dien");
        trainer.SaveCheckpoint(after);
        Entry(after, "optimizer.bin").Should().Equal(Entry(before, "optimizer.bin"), "the optimizer's moments are as they were");
        Entry(after, "training.json").Should().Equal(Entry(before, "training.json"));
    }

    [Fact]
    public void Truncation_at_every_length_is_a_CheckpointException()
    {
        string path = Path.Combine(_folder, "small.dien");
        using (var model = new TinyCtrModel(TinyCtrModel.SmallOptions()))
        {
            Checkpoint.Save(path, model);
        }

        byte[] file = File.ReadAllBytes(path);
        string cut = Path.Combine(_folder, "cut.dien");
        for (int length = 0; length < file.Length; length++)
        {
            File.WriteAllBytes(cut, file[..length]);
            var act = () => Checkpoint.Read(cut);
            act.Should().Throw<CheckpointException>("a checkpoint cut to {0} of {1} bytes is incomplete", length, file.Length);
        }
    }

    [Fact]
    public void Seeded_single_byte_mutations_end_in_CheckpointException_or_load_the_original_exactly()
    {
        string path = TrainedCheckpoint("fuzz.dien");
        byte[] file = File.ReadAllBytes(path);
        float[] original;
        using (var reference = (TinyCtrModel)Checkpoint.LoadModel(path))
        {
            original = Weights(reference);
        }

        var random = new Random(20261130);
        string mutated = Path.Combine(_folder, "mutated.dien");
        int rejected = 0;
        torch.manual_seed(5);
        using var model = new TinyCtrModel(TinyCtrModel.SmallOptions());
        using var trainer = new CtrTrainer(model, new TrainerOptions { Epochs = 3, ReleaseMemoryBetweenEpochs = false });
        var untouched = Weights(model);
        for (int i = 0; i < 300; i++)
        {
            var copy = (byte[])file.Clone();
            int at = random.Next(copy.Length);
            copy[at] = (byte)(copy[at] ^ (1 + random.Next(255)));
            File.WriteAllBytes(mutated, copy);
            try
            {
                trainer.LoadCheckpoint(mutated);
            }
            catch (CheckpointException e)
            {
                e.Path.Should().Be(mutated);
                Weights(model).Should().Equal(untouched, "a rejected checkpoint changes nothing (mutation {0} at byte {1})", i, at);
                rejected++;
                continue;
            }

            // Damage to bytes nothing reads (a timestamp, a comment) is harmless; anything else must have been caught.
            Weights(model).Should().Equal(original, "mutation {0} at byte {1} loaded, so it must load the original", i, at);
            using (torch.no_grad())
            {
                foreach (var (p, w) in model.parameters().Zip(SplitLike(model, untouched)))
                {
                    p.copy_(w);
                }
            }
        }

        rejected.Should().BeGreaterThan(250);
    }

    private static IEnumerable<torch.Tensor> SplitLike(TinyCtrModel model, float[] flat)
    {
        int offset = 0;
        foreach (var p in model.parameters())
        {
            int n = (int)p.numel();
            yield return torch.tensor(flat[offset..(offset + n)]).reshape(p.shape);
            offset += n;
        }
    }

    [Fact]
    public void A_save_removes_every_leftover_temporary_of_the_same_checkpoint_but_not_one_a_live_writer_holds()
    {
        string path = Path.Combine(_folder, "x.dien");
        string old = Path.Combine(_folder, $".x.dien.{Guid.NewGuid():N}.tmp");
        string fresh = Path.Combine(_folder, $".x.dien.{Guid.NewGuid():N}.tmp");
        string held = Path.Combine(_folder, $".x.dien.{Guid.NewGuid():N}.tmp");
        string other = Path.Combine(_folder, $".y.dien.{Guid.NewGuid():N}.tmp");
        string notOurs = Path.Combine(_folder, ".x.dien.notes.tmp");
        foreach (string f in new[] { old, fresh, held, other, notOurs })
        {
            File.WriteAllText(f, "partial");
        }

        File.SetLastWriteTimeUtc(old, DateTime.UtcNow.AddHours(-1));
        using (var model = new TinyCtrModel(TinyCtrModel.SmallOptions()))
        // A save still writing holds its temporary open, as Checkpoint.Save does until the rename.
        using (new FileStream(held, FileMode.Open, FileAccess.Write, FileShare.Delete))
        {
            Checkpoint.Save(path, model);
        }

        File.Exists(old).Should().BeFalse("an interrupted save of x.dien left it an hour ago");
        File.Exists(fresh).Should().BeFalse("an interrupted save left it a moment ago, and no writer holds it");
        File.Exists(held).Should().BeTrue("a live save is writing it");
        File.Exists(other).Should().BeTrue("it belongs to another checkpoint");
        File.Exists(notOurs).Should().BeTrue("its name is not one a save writes");
        using var predictor = CtrPredictor.Load(path);
        predictor.Options.ItemVocabularySize.Should().Be(40);
    }
}
