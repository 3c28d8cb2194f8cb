using Dien.Checkpoints;
using Dien.Tests.Training;
using TorchSharp;

namespace Dien.Tests;

/// <summary>
/// The entry point of this assembly when a test starts it as a child process (<c>dotnet exec Dien.Tests.dll ...</c>);
/// the test runner never calls it.
/// </summary>
public static class ChildProcess
{
    /// <summary>
    /// <c>save-loop path</c>: saves checkpoints of a tiny model to <c>path</c> forever, version k holding every weight
    /// equal to k, and prints <c>saved k</c> after each, until killed.
    /// </summary>
    public static int Main(string[] args)
    {
        if (args.Length != 2 || args[0] != "save-loop")
        {
            Console.Error.WriteLine("usage: save-loop <checkpoint path>");
            return 2;
        }

        ModelKinds.Register("tiny", o => new TinyCtrModel(o));
        using var model = new TinyCtrModel(TinyCtrModel.SmallOptions());
        for (int version = 1; ; version++)
        {
            using (torch.no_grad())
            {
                foreach (var parameter in model.parameters())
                {
                    parameter.fill_(version);
                }
            }

            Checkpoint.Save(args[1], model);
            Console.Out.WriteLine($"saved {version}");
            Console.Out.Flush();
        }
    }
}
