// Build-time compatibility step for TorchSharp's native library on older Linux distributions.
//
// TorchSharp 0.107's libLibTorchSharp.so was linked against GCC 13's libstdc++ and so carries a
// version requirement on GLIBCXX_3.4.32. The only symbol bound to that version is
// _ZSt21ios_base_library_initv, a link-time marker that is never called. Debian 12 and Ubuntu 22.04
// ship libstdc++ with GLIBCXX_3.4.30, so the dynamic loader refuses the library. Marking that one
// requirement weak (VER_FLG_WEAK in the vna_flags of its Vernaux entry) lets the loader accept it.
//
// This file is compiled twice: by MSBuild's RoslynCodeTaskFactory (Dien.targets, shipped in the
// package's buildTransitive folder) and by the test project with DIEN_ELF_ONLY defined, which leaves
// out the MSBuild task so the ELF logic can be tested on its own. The task factory compiles against
// .NET Standard 2.0: keep to APIs that exist there.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Dien.Build
{
    /// <summary>What <see cref="ElfVersionPatcher.WeakenRequirement"/> did to a file.</summary>
    public enum ElfPatchOutcome
    {
        /// <summary>The requirement was strong and has been marked weak.</summary>
        Patched,
        /// <summary>The requirement was already weak; the file was not written.</summary>
        AlreadyWeak,
        /// <summary>The file has no requirement on that version; the file was not written.</summary>
        NoSuchRequirement,
    }

    /// <summary>The outcome of a patch attempt with a sentence that names the file.</summary>
    public sealed class ElfPatchResult
    {
        /// <summary>Creates a result.</summary>
        public ElfPatchResult(ElfPatchOutcome outcome, string message, long flagsOffset)
        {
            Outcome = outcome;
            Message = message;
            FlagsOffset = flagsOffset;
        }

        /// <summary>What happened.</summary>
        public ElfPatchOutcome Outcome { get; }

        /// <summary>A one-line explanation naming the file.</summary>
        public string Message { get; }

        /// <summary>File offset of the Vernaux entry's vna_flags field, or -1 when there is none.</summary>
        public long FlagsOffset { get; }
    }

    /// <summary>Reads and edits symbol-version requirements (.gnu.version_r) of 64-bit little-endian ELF files.</summary>
    public static class ElfVersionPatcher
    {
        /// <summary>The version flag that tells the loader a missing version is not fatal.</summary>
        public const ushort VerFlagWeak = 0x2;

        private const uint ShtDynsym = 11;
        private const uint ShtGnuVerdef = 0x6ffffffd;
        private const uint ShtGnuVerneed = 0x6ffffffe;
        private const uint ShtGnuVersym = 0x6fffffff;

        /// <summary>
        /// Marks the requirement on <paramref name="versionName"/> weak, after checking that only
        /// <paramref name="allowedSymbols"/> are bound to it. Only the two bytes of that entry's
        /// vna_flags change; the file is replaced atomically (temporary file, then rename), so a
        /// hard link into a package cache is never written through.
        /// </summary>
        /// <param name="path">The ELF shared object to edit.</param>
        /// <param name="versionName">The version, for example <c>GLIBCXX_3.4.32</c>.</param>
        /// <param name="allowedSymbols">Symbols allowed to depend on that version; any other one makes the edit unsafe.</param>
        /// <exception cref="InvalidDataException">The file is not a 64-bit little-endian ELF file, is malformed, or binds other symbols to that version.</exception>
        public static ElfPatchResult WeakenRequirement(string path, string versionName, ICollection<string> allowedSymbols)
        {
            byte[] bytes = File.ReadAllBytes(path);
            var elf = new ElfImage(path, bytes);
            long flagsOffset = elf.FindVernauxFlags(versionName, out ushort versionIndex);
            if (flagsOffset < 0)
            {
                return new ElfPatchResult(ElfPatchOutcome.NoSuchRequirement,
                    $"'{path}' has no requirement on {versionName}; left untouched.", -1);
            }

            ushort flags = elf.U16(flagsOffset);
            if ((flags & VerFlagWeak) != 0)
            {
                return new ElfPatchResult(ElfPatchOutcome.AlreadyWeak,
                    $"'{path}' already marks {versionName} weak; left untouched.", flagsOffset);
            }

            var bound = elf.SymbolsWithVersionIndex(versionIndex);
            var unexpected = new List<string>();
            foreach (string symbol in bound)
            {
                if (!allowedSymbols.Contains(symbol))
                {
                    unexpected.Add(symbol);
                }
            }

            if (unexpected.Count > 0)
            {
                throw new InvalidDataException(
                    $"'{path}' binds {unexpected.Count} symbol(s) other than the expected ones to {versionName} " +
                    $"({string.Join(", ", unexpected)}); marking it weak could hide a real missing symbol, so the file was left untouched.");
            }

            ushort patched = (ushort)(flags | VerFlagWeak);
            bytes[flagsOffset] = (byte)(patched & 0xff);
            bytes[flagsOffset + 1] = (byte)(patched >> 8);
            ReplaceAtomically(path, bytes);
            return new ElfPatchResult(ElfPatchOutcome.Patched,
                $"'{path}': marked the {versionName} requirement weak (only {string.Join(", ", bound)} depends on it).", flagsOffset);
        }

        /// <summary>True when the ELF file at <paramref name="path"/> defines (.gnu.version_d) the version <paramref name="versionName"/>.</summary>
        /// <exception cref="InvalidDataException">The file is not a 64-bit little-endian ELF file or is malformed.</exception>
        public static bool DefinesVersion(string path, string versionName)
        {
            var elf = new ElfImage(path, File.ReadAllBytes(path));
            return elf.DefinesVersion(versionName);
        }

        /// <summary>Reads the vna_flags of the requirement on <paramref name="versionName"/>, or null when there is none.</summary>
        /// <exception cref="InvalidDataException">The file is not a 64-bit little-endian ELF file or is malformed.</exception>
        public static ushort? ReadRequirementFlags(string path, string versionName)
        {
            var elf = new ElfImage(path, File.ReadAllBytes(path));
            long offset = elf.FindVernauxFlags(versionName, out _);
            return offset < 0 ? null : elf.U16(offset);
        }

        private static void ReplaceAtomically(string path, byte[] bytes)
        {
            string temp = path + ".dien-tmp";
            File.WriteAllBytes(temp, bytes);
            File.SetLastWriteTimeUtc(temp, DateTime.UtcNow);
            // A rename: atomic on one file system, and it never writes through a hard link.
            File.Replace(temp, path, null);
        }

        /// <summary>A bounds-checked view of an ELF64 little-endian image.</summary>
        private sealed class ElfImage
        {
            private readonly string _path;
            private readonly byte[] _bytes;
            private readonly List<Section> _sections = new List<Section>();

            public ElfImage(string path, byte[] bytes)
            {
                _path = path;
                _bytes = bytes;
                if (bytes.Length < 64 || bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F')
                {
                    throw new InvalidDataException($"'{path}' is not an ELF file (no \\x7fELF magic); left untouched.");
                }

                if (bytes[4] != 2 || bytes[5] != 1)
                {
                    throw new InvalidDataException(
                        $"'{path}' is ELF class {bytes[4]}, data encoding {bytes[5]}; only 64-bit little-endian files are supported. Left untouched.");
                }

                ulong shoff = U64(0x28);
                ushort shentsize = U16(0x3a);
                ushort shnum = U16(0x3c);
                if (shentsize != 64)
                {
                    throw Malformed($"section header size {shentsize}, expected 64");
                }

                for (int i = 0; i < shnum; i++)
                {
                    long h = checked((long)shoff + (long)i * shentsize);
                    Check(h, 64);
                    _sections.Add(new Section(U32(h + 4), (long)U64(h + 24), (long)U64(h + 32), U32(h + 40), U32(h + 44), (long)U64(h + 56)));
                }
            }

            public ushort U16(long at)
            {
                Check(at, 2);
                return (ushort)(_bytes[at] | (_bytes[at + 1] << 8));
            }

            public uint U32(long at)
            {
                Check(at, 4);
                return (uint)(_bytes[at] | (_bytes[at + 1] << 8) | (_bytes[at + 2] << 16) | (_bytes[at + 3] << 24));
            }

            private ulong U64(long at) => U32(at) | ((ulong)U32(at + 4) << 32);

            /// <summary>Offset of vna_flags of the Vernaux entry named <paramref name="versionName"/>, or -1.</summary>
            public long FindVernauxFlags(string versionName, out ushort versionIndex)
            {
                versionIndex = 0;
                foreach (Section verneed in _sections)
                {
                    if (verneed.Type != ShtGnuVerneed)
                    {
                        continue;
                    }

                    Section strtab = SectionAt(verneed.Link);
                    long entry = verneed.Offset;
                    for (uint n = 0; n < verneed.Info; n++)
                    {
                        ushort count = U16(entry + 2);
                        long aux = entry + U32(entry + 8);
                        for (int a = 0; a < count; a++)
                        {
                            if (String(strtab, U32(aux + 8)) == versionName)
                            {
                                versionIndex = (ushort)(U16(aux + 6) & 0x7fff);
                                return aux + 4;
                            }

                            uint nextAux = U32(aux + 12);
                            if (nextAux == 0)
                            {
                                break;
                            }

                            aux += nextAux;
                        }

                        uint next = U32(entry + 12);
                        if (next == 0)
                        {
                            break;
                        }

                        entry += next;
                    }
                }

                return -1;
            }

            public bool DefinesVersion(string versionName)
            {
                foreach (Section verdef in _sections)
                {
                    if (verdef.Type != ShtGnuVerdef)
                    {
                        continue;
                    }

                    Section strtab = SectionAt(verdef.Link);
                    long entry = verdef.Offset;
                    for (uint n = 0; n < verdef.Info; n++)
                    {
                        ushort count = U16(entry + 6);
                        long aux = entry + U32(entry + 12);
                        for (int a = 0; a < count; a++)
                        {
                            if (String(strtab, U32(aux)) == versionName)
                            {
                                return true;
                            }

                            uint nextAux = U32(aux + 4);
                            if (nextAux == 0)
                            {
                                break;
                            }

                            aux += nextAux;
                        }

                        uint next = U32(entry + 16);
                        if (next == 0)
                        {
                            break;
                        }

                        entry += next;
                    }
                }

                return false;
            }

            /// <summary>Names of the dynamic symbols whose .gnu.version entry is <paramref name="versionIndex"/>.</summary>
            public List<string> SymbolsWithVersionIndex(ushort versionIndex)
            {
                var names = new List<string>();
                Section? versym = null;
                Section? dynsym = null;
                foreach (Section s in _sections)
                {
                    if (s.Type == ShtGnuVersym) versym = s;
                    if (s.Type == ShtDynsym) dynsym = s;
                }

                if (versym == null || dynsym == null || dynsym.EntrySize == 0)
                {
                    return names;
                }

                Section strtab = SectionAt(dynsym.Link);
                long count = dynsym.Size / dynsym.EntrySize;
                for (long i = 0; i < count; i++)
                {
                    if ((U16(versym.Offset + (2 * i)) & 0x7fff) == versionIndex)
                    {
                        names.Add(String(strtab, U32(dynsym.Offset + (i * dynsym.EntrySize))));
                    }
                }

                return names;
            }

            private Section SectionAt(uint index)
            {
                if (index >= _sections.Count)
                {
                    throw Malformed($"section link {index} is out of range");
                }

                return _sections[(int)index];
            }

            private string String(Section strtab, uint offset)
            {
                long start = strtab.Offset + offset;
                Check(start, 1);
                long end = start;
                while (end < _bytes.Length && _bytes[end] != 0)
                {
                    end++;
                }

                return Encoding.ASCII.GetString(_bytes, (int)start, (int)(end - start));
            }

            private void Check(long at, int length)
            {
                if (at < 0 || at + length > _bytes.Length)
                {
                    throw Malformed($"offset {at} is outside the file ({_bytes.Length} bytes)");
                }
            }

            private InvalidDataException Malformed(string what) =>
                new InvalidDataException($"'{_path}' is a malformed ELF file: {what}. Left untouched.");
        }

        private sealed class Section
        {
            public Section(uint type, long offset, long size, uint link, uint info, long entrySize)
            {
                Type = type;
                Offset = offset;
                Size = size;
                Link = link;
                Info = info;
                EntrySize = entrySize;
            }

            public uint Type { get; }
            public long Offset { get; }
            public long Size { get; }
            public uint Link { get; }
            public uint Info { get; }
            public long EntrySize { get; }
        }
    }
}

#if !DIEN_ELF_ONLY
/// <summary>
/// MSBuild task: on Linux, when the system's libstdc++ lacks <see cref="VersionName"/>, marks that
/// requirement weak in each of <see cref="Files"/> (copies in the build or publish output only).
/// </summary>
public sealed class DienWeakenGlibcxxRequirement : Microsoft.Build.Utilities.Task
{
    /// <summary>The shared objects in the output to inspect.</summary>
    public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

    /// <summary>The version requirement to weaken.</summary>
    public string VersionName { get; set; } = "GLIBCXX_3.4.32";

    /// <summary>Semicolon-separated symbols allowed to depend on that version.</summary>
    public string AllowedSymbols { get; set; } = "_ZSt21ios_base_library_initv";

    /// <summary><c>auto</c> (patch only when the system lacks the version), <c>force</c> or <c>false</c>.</summary>
    public string Mode { get; set; } = "auto";

    /// <inheritdoc />
    public override bool Execute()
    {
        if (string.Equals(Mode, "false", StringComparison.OrdinalIgnoreCase) || !System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Linux) || Files.Length == 0)
        {
            return true;
        }

        if (!string.Equals(Mode, "force", StringComparison.OrdinalIgnoreCase))
        {
            string? libstdcxx = FindSystemLibStdCxx();
            if (libstdcxx != null && Dien.Build.ElfVersionPatcher.DefinesVersion(libstdcxx, VersionName))
            {
                return true;
            }
        }

        var allowed = new HashSet<string>(AllowedSymbols.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries));
        foreach (var item in Files)
        {
            string path = item.GetMetadata("FullPath");
            try
            {
                var result = Dien.Build.ElfVersionPatcher.WeakenRequirement(path, VersionName, allowed);
                var importance = result.Outcome == Dien.Build.ElfPatchOutcome.Patched
                    ? Microsoft.Build.Framework.MessageImportance.High
                    : Microsoft.Build.Framework.MessageImportance.Low;
                Log.LogMessage(importance, "Dien: " + result.Message);
            }
            catch (Exception ex) when (ex is InvalidDataException || ex is IOException || ex is UnauthorizedAccessException)
            {
                Log.LogWarning("Dien: could not apply the libstdc++ compatibility step: " + ex.Message);
            }
        }

        return true;
    }

    private static string? FindSystemLibStdCxx()
    {
        var dirs = new List<string>();
        string? ldPath = Environment.GetEnvironmentVariable("LD_LIBRARY_PATH");
        if (!string.IsNullOrEmpty(ldPath))
        {
            dirs.AddRange(ldPath.Split(new[] { ':' }, StringSplitOptions.RemoveEmptyEntries));
        }

        dirs.AddRange(new[]
        {
            "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
            "/usr/lib64", "/lib64", "/usr/lib", "/lib", "/usr/local/lib64", "/usr/local/lib",
        });
        foreach (string dir in dirs)
        {
            string candidate = Path.Combine(dir, "libstdc++.so.6");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
#endif
