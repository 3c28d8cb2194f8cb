// A fresh application that uses the packed Dien package with the CPU backend (tests/Consumer/run.sh).
using Dien.Model;
using TorchSharp;

var options = new DienOptions { ItemVocabularySize = 10, CategoryVocabularySize = 4, UserVocabularySize = 3 };
options.EnsureValid();
var arrays = new BatchArrays
{
    Size = 1,
    Width = 2,
    UserIds = [1],
    TargetItems = [3],
    TargetCategories = [1],
    HistoryItems = [2, 5],
    HistoryCategories = [1, 2],
    Lengths = [2],
};
using var batch = new DienBatch(arrays);
long sum = batch.HistoryItems.sum().item<long>();
Console.WriteLine($"history id sum {sum}");
if (sum != 7)
{
    Console.WriteLine("consumer: wrong result");
    return 1;
}

Console.WriteLine("consumer: ok");
return 0;
