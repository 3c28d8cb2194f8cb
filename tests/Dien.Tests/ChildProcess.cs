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
    /// <summary>Runs this assembly as a child process with <paramref name="args"/> (a mode below) and waits for it to end.</summary>
    /// <returns>Its exit code and everything it wrote.</returns>
    internal static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { "exec", typeof(ChildProcess).Assembly.Location }.Concat(args))
        {
            start.ArgumentList.Add(arg);
        }

        using var child = System.Diagnostics.Process.Start(start)!;
        var stderrRead = child.StandardError.ReadToEndAsync();
        string stdout = await child.StandardOutput.ReadToEndAsync();
        await child.WaitForExitAsync();
        return (child.ExitCode, stdout, await stderrRead);
    }

    /// <summary>
    /// <c>save-loop path</c>: saves checkpoints of a tiny model to <c>path</c> forever, version k holding every weight
    /// equal to k, and prints <c>saved k</c> after each, until killed.
    /// <c>readme README.md folder</c>: compiles the README's C# example from its text and runs it in <c>folder</c>,
    /// in a fresh process as a user's program would run (its own working folder, libtorch not yet loaded).
    /// <c>first-calls path warm|cold</c>: loads the checkpoint at <c>path</c> (a model of <c>ModelTestKit.TinyOptions</c>),
    /// calls <see cref="Inference.CtrPredictor.WarmUp"/> with <c>warm</c>, then scores as a service would (one candidate,
    /// 100 candidates, a batch of 100 rows) and prints <c>compiled N</c>: the methods .NET compiled on this thread
    /// during those calls.
    /// </summary>
    public static int Main(string[] args)
    {
        if (args.Length == 3 && args[0] == "readme")
        {
            return Docs.ReadmeExample.Run(args[1], args[2]);
        }

        if (args.Length == 3 && args[0] == "first-calls")
        {
            return Inference.WarmUpTests.FirstCalls(args[1], warm: args[2] == "warm");
        }

        if (args.Length != 2 || args[0] != "save-loop")
        {
            Console.Error.WriteLine("usage: save-loop <checkpoint path> | readme <README.md> <folder> | first-calls <checkpoint path> warm|cold");
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
