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
    /// <c>readme README.md folder</c>: compiles the README's C# example from its text and runs it in <c>folder</c>,
    /// in a fresh process as a user's program would run (its own working folder, libtorch not yet loaded).
    /// </summary>
    public static int Main(string[] args)
    {
        if (args.Length == 3 && args[0] == "readme")
        {
            return Docs.ReadmeExample.Run(args[1], args[2]);
        }

        if (args.Length != 2 || args[0] != "save-loop")
        {
            Console.Error.WriteLine("usage: save-loop <checkpoint path> | readme <README.md> <folder>");
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
