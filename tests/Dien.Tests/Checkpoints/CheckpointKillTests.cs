using System.Diagnostics;
using Dien.Checkpoints;
using Dien.Tests.Training;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Checkpoints;

/// <summary>Kills a process that saves checkpoints at random moments (SIGKILL) and loads the file after each kill.</summary>
[Collection("Sequential")]
public sealed class CheckpointKillTests : IDisposable
{
    private const int Kills = 20;

    private readonly string _folder = Directory.CreateTempSubdirectory("dien-kill-").FullName;

    public CheckpointKillTests() => ModelKinds.Register("tiny", o => new TinyCtrModel(o));

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [SkippableFact]
    public void Every_kill_leaves_a_loadable_complete_checkpoint()
    {
        Skip.IfNot(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "SIGKILL is Unix-only");
        string path = Path.Combine(_folder, "model.dien");
        string assembly = typeof(ChildProcess).Assembly.Location;
        var random = new Random(14);
        int lastVersion = 0;
        for (int kill = 0; kill < Kills; kill++)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string arg in new[] { "exec", assembly, "save-loop", path })
            {
                start.ArgumentList.Add(arg);
            }

            using var child = Process.Start(start)!;
            // Wait until it has saved at least once (the first kill needs a file to load), then kill it mid-save.
            string? line = child.StandardOutput.ReadLine();
            line.Should().StartWith("saved", $"the child started (stderr: {(line is null ? child.StandardError.ReadToEnd() : string.Empty)})");
            Thread.Sleep(random.Next(0, 60));
            child.Kill(); // SIGKILL on Unix
            child.WaitForExit();

            using var model = (TinyCtrModel)Checkpoint.LoadModel(path);
            var weights = model.parameters().SelectMany(p => p.detach().data<float>().ToArray()).Distinct().ToArray();
            weights.Should().ContainSingle("one complete version, never a mix (kill {0})", kill);
            ((int)weights[0]).Should().BePositive();
            lastVersion = (int)weights[0];
        }

        lastVersion.Should().BePositive();
        // Temporaries of killed saves are left behind; only ones of this checkpoint, and the next save removes stale ones.
        var temporaries = Directory.GetFiles(_folder, ".model.dien.*.tmp");
        temporaries.Length.Should().BeLessThanOrEqualTo(Kills);
        foreach (string temporary in temporaries)
        {
            File.SetLastWriteTimeUtc(temporary, DateTime.UtcNow.AddHours(-1));
        }

        using (var model = new TinyCtrModel(TinyCtrModel.SmallOptions()))
        {
            Checkpoint.Save(path, model);
        }

        Directory.GetFiles(_folder).Should().ContainSingle().Which.Should().Be(path);
    }
}
