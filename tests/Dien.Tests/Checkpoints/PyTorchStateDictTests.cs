using System.IO.Compression;
using Dien.Checkpoints;
using Dien.Tests.Training;
using FluentAssertions;
using TorchSharp;
using Xunit;

namespace Dien.Tests.Checkpoints;

[Collection("Sequential")]
public class PyTorchStateDictTests
{
    [Fact]
    public void Export_writes_the_torch_save_layout_and_import_restores_every_weight()
    {
        string path = Path.Combine(Path.GetTempPath(), $"dien-{Guid.NewGuid():N}.pt");
        try
        {
            torch.manual_seed(11);
            using var model = new TinyCtrModel(TinyCtrModel.SmallOptions());
            PyTorchStateDict.Export(model, path);

            using (var zip = ZipFile.OpenRead(path))
            {
                var names = zip.Entries.Select(e => e.FullName).ToList();
                var roots = names.Select(n => n.Split('/')[0]).Distinct().ToList();
                roots.Should().ContainSingle("torch.load expects one top-level folder");
                string root = roots[0];
                names.Should().Contain(new[] { $"{root}/data.pkl", $"{root}/version", $"{root}/data/0" });
                names.Count(n => n.StartsWith($"{root}/data/", StringComparison.Ordinal)).Should().Be(model.state_dict().Count);
                using var pickle = zip.GetEntry($"{root}/data.pkl")!.Open();
                var bytes = new MemoryStream();
                pickle.CopyTo(bytes);
                string text = System.Text.Encoding.Latin1.GetString(bytes.ToArray());
                foreach (var key in model.state_dict().Keys)
                {
                    text.Should().Contain(key, "the state-dict keys are the pickle's dictionary keys");
                }

                text.Should().Contain("_rebuild_tensor_v2");
            }

            torch.manual_seed(12);
            using var other = new TinyCtrModel(TinyCtrModel.SmallOptions());
            PyTorchStateDict.Import(other, path);
            foreach (var (name, tensor) in model.state_dict())
            {
                other.state_dict()[name].data<float>().ToArray().Should().Equal(tensor.data<float>().ToArray(), name);
            }

            var options = TinyCtrModel.SmallOptions();
            options.ItemEmbeddingSize = 6;
            using var wrong = new TinyCtrModel(options);
            var act = () => PyTorchStateDict.Import(wrong, path);
            act.Should().Throw<CheckpointException>().WithMessage($"*{Path.GetFileName(path)}*items.weight*[40, 4] in the file but*[40, 6]*");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
