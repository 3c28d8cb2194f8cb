namespace Dien.Data.Batching;

/// <summary>
/// The table sizes a batch's ids are checked against (<see cref="BatchArrays.EnsureIdsInRange"/>): the model's
/// vocabularies, as plain numbers, so that the data layer needs nothing from the model layer. The property names
/// are those of the model options, so that a message names the option to change.
/// </summary>
/// <param name="ItemVocabularySize">Rows of the item table.</param>
/// <param name="CategoryVocabularySize">Rows of the category table.</param>
/// <param name="UserVocabularySize">Rows of the user table.</param>
/// <param name="ExtraFieldVocabularySizes">Rows of each extra field's table.</param>
internal sealed record VocabularySizes(
    long ItemVocabularySize,
    long CategoryVocabularySize,
    long UserVocabularySize,
    IReadOnlyList<long> ExtraFieldVocabularySizes);
