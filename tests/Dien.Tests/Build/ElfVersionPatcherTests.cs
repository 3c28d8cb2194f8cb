using System.Reflection;
using Dien.Build;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Build;

/// <summary>The libstdc++ compatibility edit: exactly one flag, idempotent, and safe on files it must not touch.</summary>
public sealed class ElfVersionPatcherTests : IDisposable
{
    private const string Version = "GLIBCXX_3.4.32";
    private static readonly string[] Marker = ["_ZSt21ios_base_library_initv"];
    private readonly string _dir = Directory.CreateTempSubdirectory("dien-elf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string PristineLibrary
    {
        get
        {
            string dir = typeof(ElfVersionPatcherTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .Single(a => a.Key == "TorchSharpNativeDir").Value!;
            return Path.Combine(dir, "libLibTorchSharp.so");
        }
    }

    /// <summary>The .NET runtime itself links libstdc++, so this process has the system's copy mapped.</summary>
    private static string LoadedLibStdCxx() => File.ReadLines("/proc/self/maps")
        .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "")
        .First(p => Path.GetFileName(p).StartsWith("libstdc++.so", StringComparison.Ordinal));

    private string CopyOfPristine()
    {
        string copy = Path.Combine(_dir, "libLibTorchSharp.so");
        File.Copy(PristineLibrary, copy);
        return copy;
    }

    [Fact]
    public void PackageCacheCopyIsNeverEdited()
    {
        ElfVersionPatcher.ReadRequirementFlags(PristineLibrary, Version).Should().Be((ushort)0,
            "the build edits only the output copy, so the cache keeps the strong requirement");
    }

    [Fact]
    public void PatchSetsTheWeakFlagAndChangesNoOtherByte()
    {
        string path = CopyOfPristine();
        byte[] before = File.ReadAllBytes(path);

        ElfPatchResult result = ElfVersionPatcher.WeakenRequirement(path, Version, Marker);

        result.Outcome.Should().Be(ElfPatchOutcome.Patched);
        result.Message.Should().Contain(path);
        ElfVersionPatcher.ReadRequirementFlags(path, Version).Should().Be(ElfVersionPatcher.VerFlagWeak);
        byte[] after = File.ReadAllBytes(path);
        after.Length.Should().Be(before.Length);
        var changed = Enumerable.Range(0, before.Length).Where(i => before[i] != after[i]).ToList();
        changed.Should().Equal((int)result.FlagsOffset);
        after[result.FlagsOffset].Should().Be((byte)(before[result.FlagsOffset] | ElfVersionPatcher.VerFlagWeak));
    }

    [Fact]
    public void SecondRunChangesNothing()
    {
        string path = CopyOfPristine();
        ElfVersionPatcher.WeakenRequirement(path, Version, Marker);
        byte[] once = File.ReadAllBytes(path);
        DateTime stamp = File.GetLastWriteTimeUtc(path);

        ElfPatchResult again = ElfVersionPatcher.WeakenRequirement(path, Version, Marker);

        again.Outcome.Should().Be(ElfPatchOutcome.AlreadyWeak);
        File.ReadAllBytes(path).Should().Equal(once);
        File.GetLastWriteTimeUtc(path).Should().Be(stamp, "an idempotent step does not even rewrite the file");
    }

    [Fact]
    public void NonElfFileGetsAMessageNamingItAndStaysUntouched()
    {
        string path = Path.Combine(_dir, "notes.so");
        File.WriteAllText(path, "this is not a shared object, just text that is long enough to pass a size check..........");
        byte[] before = File.ReadAllBytes(path);

        Action act = () => ElfVersionPatcher.WeakenRequirement(path, Version, Marker);

        act.Should().Throw<InvalidDataException>().WithMessage($"*'{path}'*not an ELF file*");
        File.ReadAllBytes(path).Should().Equal(before);
    }

    [Fact]
    public void FileWithoutThatRequirementIsReportedAndUntouched()
    {
        string path = CopyOfPristine();
        byte[] before = File.ReadAllBytes(path);

        ElfPatchResult result = ElfVersionPatcher.WeakenRequirement(path, "GLIBCXX_9.9.99", Marker);

        result.Outcome.Should().Be(ElfPatchOutcome.NoSuchRequirement);
        result.Message.Should().Contain(path).And.Contain("GLIBCXX_9.9.99");
        File.ReadAllBytes(path).Should().Equal(before);
    }

    [Fact]
    public void RefusesWhenOtherSymbolsDependOnTheVersion()
    {
        string path = CopyOfPristine();
        byte[] before = File.ReadAllBytes(path);

        Action act = () => ElfVersionPatcher.WeakenRequirement(path, Version, Array.Empty<string>());

        act.Should().Throw<InvalidDataException>().WithMessage($"*'{path}'*_ZSt21ios_base_library_initv*");
        File.ReadAllBytes(path).Should().Equal(before);
    }

    [Fact]
    public void TruncatedElfIsMalformedNotACrash()
    {
        string path = Path.Combine(_dir, "truncated.so");
        File.WriteAllBytes(path, File.ReadAllBytes(PristineLibrary).AsSpan(0, 4096).ToArray());

        Action act = () => ElfVersionPatcher.WeakenRequirement(path, Version, Marker);

        act.Should().Throw<InvalidDataException>().WithMessage($"*'{path}'*malformed*");
    }

    [Fact]
    public void ReadsVersionDefinitionsOfTheLoadedLibStdCxx()
    {
        string libstdcxx = LoadedLibStdCxx();

        ElfVersionPatcher.DefinesVersion(libstdcxx, "GLIBCXX_3.4").Should().BeTrue();
        ElfVersionPatcher.DefinesVersion(libstdcxx, "GLIBCXX_99.0").Should().BeFalse();
    }

    [Fact]
    public void BuildOutputCopyIsWeakExactlyWhenTheSystemLacksTheVersion()
    {
        // A portable build keeps the native files under runtimes/; a build for one runtime (-r linux-x64) puts them beside the assembly.
        string output = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        if (!File.Exists(output))
        {
            output = Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so");
        }

        string libstdcxx = LoadedLibStdCxx();
        bool systemHasIt = ElfVersionPatcher.DefinesVersion(libstdcxx, Version);

        ushort? flags = ElfVersionPatcher.ReadRequirementFlags(output, Version);

        flags.Should().Be(systemHasIt ? (ushort)0 : ElfVersionPatcher.VerFlagWeak);
    }
}
