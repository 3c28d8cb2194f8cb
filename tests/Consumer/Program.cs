// A fresh application that uses the packed Dien package with the CPU backend (tests/Consumer/run.sh):
// it shortens libtorch's OpenMP spin before libtorch loads, trains one step of DIEN and scores one user's candidates.
using Dien.Data.Batching;
using Dien.Inference;
using Dien.Model;
using Dien.Runtime;
using TorchSharp;

// First call of a fresh process on Linux: libtorch is not loaded yet, so this must apply (unless the
// environment already sets the variable). libgomp then reads it when libtorch loads below.
bool preset = Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") is not null || Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null;
var expectedSpin = !OperatingSystem.IsLinux() ? OpenMpSpinResult.NotLinux : preset ? OpenMpSpinResult.AlreadySet : OpenMpSpinResult.Applied;
var spin = OpenMpSpin.Shorten();
Console.WriteLine($"OpenMP spin: {spin}, GOMP_SPINCOUNT={Environment.GetEnvironmentVariable("GOMP_SPINCOUNT")}");
if (spin != expectedSpin)
{
    Console.WriteLine($"consumer: OpenMpSpin.Shorten returned {spin}, expected {expectedSpin}");
    return 1;
}

torch.manual_seed(1);
var options = new DienOptions { ItemVocabularySize = 20, CategoryVocabularySize = 5, UserVocabularySize = 4 };
using var model = new DienModel(options);
var arrays = new BatchArrays
{
    Size = 2,
    Width = 3,
    UserIds = [1, 2],
    TargetItems = [3, 7],
    TargetCategories = [1, 2],
    HistoryItems = [2, 5, 9, 4, 0, 0],
    HistoryCategories = [1, 2, 3, 2, 0, 0],
    Lengths = [3, 1],
    Labels = [1, 0],
    NegativeItems = [6, 8, 10, 11, 0, 0],
    NegativeCategories = [2, 3, 4, 4, 0, 0],
};

using var optimizer = torch.optim.Adam(model.parameters(), 1e-3);
float loss;
using (var scope = torch.NewDisposeScope())
{
    using var batch = new DienBatch(arrays);
    optimizer.zero_grad();
    using var output = model.call(batch);
    output.Loss!.backward();
    optimizer.step();
    loss = output.Loss.item<float>();
}

using var predictor = new DienPredictor(model);
float[] scores = predictor.ScoreCandidates(1, [2, 5, 9], [1, 2, 3], [3, 7, 12], [1, 2, 4]);
Console.WriteLine($"one training step: loss {loss:F4}; scores for user 1: {string.Join(", ", scores.Select(s => s.ToString("F4")))}");
if (!float.IsFinite(loss) || scores.Length != 3 || scores.Any(s => !(s > 0 && s < 1)))
{
    Console.WriteLine("consumer: wrong result");
    return 1;
}

Console.WriteLine("consumer: ok");
return 0;
