namespace Dien.Data.Formats;

/// <summary>The three vocabularies of the authors' format: users, items (mid) and categories.</summary>
/// <param name="Users">uid -> id.</param>
/// <param name="Items">mid (asin) -> id.</param>
/// <param name="Categories">category -> id.</param>
public sealed record AuthorsVocabularies(Vocabulary Users, Vocabulary Items, Vocabulary Categories)
{
    /// <summary>How each table was obtained (read from pickle/JSON or rebuilt).</summary>
    public (VocabularySource Users, VocabularySource Items, VocabularySource Categories) Sources { get; init; }

    /// <summary>
    /// Loads <c>uid_voc</c>, <c>mid_voc</c>, <c>cat_voc</c> (.pkl or .json) from <paramref name="directory"/>;
    /// any that is missing is rebuilt from <paramref name="trainFile"/> (an authors'-format file) by
    /// descending frequency over all its occurrences (targets and histories), ties by ordinal order,
    /// ids from 1. <see cref="Sources"/> says which was done.
    /// </summary>
    /// <param name="directory">Folder holding the vocabulary files (may lack them).</param>
    /// <param name="trainFile">The training file used to rebuild missing vocabularies.</param>
    /// <param name="options">Bad-line handling while counting.</param>
    public static AuthorsVocabularies Load(string directory, string trainFile, ReadOptions? options = null)
    {
        Dictionary<string, long>[]? counts = null;
        Dictionary<string, long>[] Counts() => counts ??= AuthorsFormatReader.CountStrings(trainFile, options ?? new ReadOptions());
        var users = VocabularyFiles.ReadOrRebuild(directory, "uid_voc", () => Vocabulary.FromCounts(Counts()[0]), out var us);
        var items = VocabularyFiles.ReadOrRebuild(directory, "mid_voc", () => Vocabulary.FromCounts(Counts()[1]), out var its);
        var cats = VocabularyFiles.ReadOrRebuild(directory, "cat_voc", () => Vocabulary.FromCounts(Counts()[2]), out var cs);
        return new AuthorsVocabularies(users, items, cats) { Sources = (us, its, cs) };
    }

    /// <summary>Writes the three tables as pickles (<c>uid_voc.pkl</c>, <c>mid_voc.pkl</c>, <c>cat_voc.pkl</c>).</summary>
    /// <param name="directory">Target folder.</param>
    public void WritePickles(string directory)
    {
        VocabularyFiles.WritePickle(Path.Combine(directory, "uid_voc.pkl"), Users);
        VocabularyFiles.WritePickle(Path.Combine(directory, "mid_voc.pkl"), Items);
        VocabularyFiles.WritePickle(Path.Combine(directory, "cat_voc.pkl"), Categories);
    }
}
