// A fresh application that uses the packed Dien package with the CPU backend (tests/Consumer/run.sh):
// it shortens libtorch's OpenMP spin before libtorch loads, trains one step of DIEN and scores one user's candidates,
// and reads an event log from Parquet (the package brings Parquet.Net with it).
using Dien.Data.Batching;
using Dien.Data.Converters;
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
var options = new CtrModelOptions { ItemVocabularySize = 20, CategoryVocabularySize = 5, UserVocabularySize = 4 };
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
    using var batch = new BehaviourBatch(arrays);
    optimizer.zero_grad();
    using var output = model.call(batch);
    output.Loss!.backward();
    optimizer.step();
    loss = output.Loss.item<float>();
}

using var predictor = new CtrPredictor(model);
float[] scores = predictor.ScoreCandidates(1, [2, 5, 9], [1, 2, 3], [3, 7, 12], [1, 2, 4]);
Console.WriteLine($"one training step: loss {loss:F4}; scores for user 1: {string.Join(", ", scores.Select(s => s.ToString("F4")))}");
if (!float.IsFinite(loss) || scores.Length != 3 || scores.Any(s => !(s > 0 && s < 1)))
{
    Console.WriteLine("consumer: wrong result");
    return 1;
}

// A two-user event log written with Parquet.Net (a dependency of the package) and read back as pairs.
string log = Path.Combine(Path.GetTempPath(), $"consumer-events-{Environment.ProcessId}.parquet");
try
{
    var user = new Parquet.Schema.DataField<string>("user");
    var item = new Parquet.Schema.DataField<long>("item");
    var time = new Parquet.Schema.DataField<long>("ts");
    await using (var stream = File.Create(log))
    await using (var writer = await Parquet.ParquetWriter.CreateAsync(new Parquet.Schema.ParquetSchema(user, item, time), stream))
    using (var group = writer.CreateRowGroup())
    {
        await group.WriteAsync(user, new[] { "a", "a", "a", "b", "b" });
        await group.WriteAsync<long>(item, new long[] { 1, 2, 3, 2, 4 });
        await group.WriteAsync<long>(time, new long[] { 10, 20, 30, 15, 25 });
    }

    var events = EventLogConverter.Convert(log, EventColumns.Parse("user=user,item=item,time=ts"), new ConversionOptions { TestUserFraction = 0 });
    Console.WriteLine($"event log: {events.Train.Count} training samples from {events.Summary.Lines} Parquet rows");
    if (events.Train.Count(s => s.Label == 1) != 5 || events.Items.Count != 4)
    {
        Console.WriteLine("consumer: wrong event-log result");
        return 1;
    }
}
finally
{
    File.Delete(log);
}

Console.WriteLine("consumer: ok");
return 0;
