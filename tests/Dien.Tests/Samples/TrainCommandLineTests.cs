using System.CommandLine;
using System.Text.RegularExpressions;
using Dien.Model;
using FluentAssertions;
using Xunit;

namespace Dien.Tests.Samples;

/// <summary>
/// Every <c>--option value</c> the training sample suggests in its messages parses with the sample's own parser, for the
/// options whose values are the library's enums (<c>--aux</c>, <c>--evolution</c>, <c>--attention</c>): a suggestion a
/// user copies must not be rejected (it once said <c>--aux labelled</c> and <c>--aux next</c>).
/// </summary>
public sealed partial class TrainCommandLineTests
{
    private static readonly string SampleFolder = Path.Combine(RepoPaths.Root, "samples", "Dien.Train");

    [Fact]
    public void EverySuggestedEnumFlagParses()
    {
        var declared = EnumOptions();
        declared.Keys.Should().Contain(["--aux", "--evolution", "--attention"], "the sample declares them as Option<enum> in Program.cs");

        var suggestions = Suggestions(declared.Keys).ToList();
        suggestions.Should().NotBeEmpty("the sample's messages suggest --aux values");
        foreach (var (file, flag, value) in suggestions)
        {
            var enumType = declared[flag];
            var option = (Option)Activator.CreateInstance(typeof(Option<>).MakeGenericType(enumType), flag)!;
            var parsed = new RootCommand { option }.Parse([flag, value]);

            parsed.Errors.Should().BeEmpty($"{file} suggests '{flag} {value}'");
            parsed.GetResult(option)!.GetValueOrDefault<object>().Should().BeOfType(enumType);
        }

        suggestions.Select(s => s.Flag + " " + s.Value).Should().Contain(["--aux labelledhistory", "--aux nextbehaviour"]);
    }

    /// <summary>The sample's options of a library enum type: flag -> enum type (from Program.cs's declarations).</summary>
    private static Dictionary<string, Type> EnumOptions()
    {
        string program = File.ReadAllText(Path.Combine(SampleFolder, "Program.cs"));
        var library = typeof(CtrModelOptions).Assembly.GetTypes().Where(t => t.IsEnum && t.IsPublic).ToDictionary(t => t.Name);
        return OptionDeclaration().Matches(program)
            .Where(m => library.ContainsKey(m.Groups["type"].Value))
            .ToDictionary(m => m.Groups["flag"].Value, m => library[m.Groups["type"].Value]);
    }

    /// <summary>Every "--flag value" inside a string literal of the sample's sources, for the given flags.</summary>
    private static IEnumerable<(string File, string Flag, string Value)> Suggestions(IEnumerable<string> flags)
    {
        var wanted = flags.ToHashSet(StringComparer.Ordinal);
        foreach (string path in Directory.EnumerateFiles(SampleFolder, "*.cs"))
        {
            foreach (Match literal in StringLiteral().Matches(File.ReadAllText(path)))
            {
                foreach (Match use in FlagUse().Matches(literal.Value))
                {
                    if (wanted.Contains(use.Groups["flag"].Value))
                    {
                        yield return (Path.GetFileName(path), use.Groups["flag"].Value, use.Groups["value"].Value);
                    }
                }
            }
        }
    }

    [GeneratedRegex("""new Option<(?<type>\w+)\??>\("(?<flag>--[\w-]+)"\)""")]
    private static partial Regex OptionDeclaration();

    [GeneratedRegex(@"\$?""(?:[^""\\\n]|\\.)*""")]
    private static partial Regex StringLiteral();

    // A value is a lower-case word (what a user types); "--aux labelledhistory needs" yields "labelledhistory".
    [GeneratedRegex(@"(?<flag>--[a-z][\w-]*) (?<value>[a-z]\w*)")]
    private static partial Regex FlagUse();
}
