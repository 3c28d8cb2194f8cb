using TorchSharp;
using static TorchSharp.torch;

// Placeholder main job: one GRU step on random data, printed. Replaced by a DIEN training run.
torch.manual_seed(42);
using var gru = nn.GRU(4, 3, batchFirst: true);
using var x = randn(2, 5, 4);
var (y, h) = gru.call(x, null);
Console.WriteLine($"GRU output shape [{string.Join(", ", y.shape)}], last state sum {h.sum().item<float>():F6}");
