using Dien.Attention;
using Dien.Auxiliary;
using Dien.Data.Batching;
using Dien.Embeddings;
using Dien.Evolution;
using Dien.Head;
using Dien.Runtime;

namespace Dien.Model;

/// <summary>
/// Everything that shapes a click-through-rate model: <see cref="DienModel"/> and the baselines built from the same
/// parts, <see cref="DinModel"/> and <see cref="SumPoolingModel"/> (the paper's BaseModel), read the same options.
/// Defaults follow the paper and the authors' runs unless both development sets show a clear gain from another
/// value (the rule and the figures are in docs/results.md). <see cref="Validate"/> runs once when a
/// model is built and reports every problem together, each naming its option.
/// </summary>
public sealed class CtrModelOptions
{
    /// <summary>Rows of the item table: item ids run from 1 to <c>ItemVocabularySize - 1</c>; 0 is padding and out-of-vocabulary.</summary>
    /// <value>No default; must be at least 2.</value>
    public long ItemVocabularySize { get; set; }

    /// <summary>Rows of the category table (ids 1 .. size - 1; 0 is padding and out-of-vocabulary).</summary>
    /// <value>No default; must be at least 2.</value>
    public long CategoryVocabularySize { get; set; }

    /// <summary>Rows of the user table (ids 1 .. size - 1; 0 is unknown).</summary>
    /// <value>No default; must be at least 1.</value>
    public long UserVocabularySize { get; set; }

    /// <summary>Table sizes of extra categorical fields (user profile, context), one per field; each field's id 0 is unknown.</summary>
    /// <value>The default value is empty.</value>
    public IList<long> ExtraFieldVocabularySizes { get; set; } = new List<long>();

    /// <summary>Width of an item embedding.</summary>
    /// <value>The default value is 18.</value>
    public int ItemEmbeddingSize { get; set; } = 18;

    /// <summary>Width of a category embedding.</summary>
    /// <value>The default value is 18.</value>
    public int CategoryEmbeddingSize { get; set; } = 18;

    /// <summary>Width of the user embedding and of each extra field's embedding.</summary>
    /// <value>The default value is 18.</value>
    public int UserEmbeddingSize { get; set; } = 18;

    /// <summary>Optional max-norm of item embedding rows (renormalised at lookup, as PyTorch's max_norm).</summary>
    /// <value>The default value is null (no limit). The seed example uses 1.</value>
    public double? ItemMaxNorm { get; set; }

    /// <summary>
    /// How every embedding table starts (items, categories, user, extra fields); the padding row stays zero.
    /// </summary>
    /// <value>The default value is <see cref="EmbeddingInitialization.Normal"/>, with <see cref="EmbeddingInitScale"/> as its standard deviation.</value>
    public EmbeddingInitialization EmbeddingInit { get; set; } = EmbeddingInitialization.Normal;

    /// <summary>
    /// The scale of <see cref="EmbeddingInit"/>: the standard deviation for <see cref="EmbeddingInitialization.Normal"/>,
    /// the bound for <see cref="EmbeddingInitialization.Uniform"/>.
    /// </summary>
    /// <value>
    /// The default value is 0.01, as the PyTorch reference: TorchSharp's own N(0, 1) leaves rows nearly random for
    /// many epochs, since Adam moves a row about 1e-3 a step (docs/research/quality-history.md).
    /// </value>
    public double EmbeddingInitScale { get; set; } = 0.01;

    /// <summary>
    /// The L2 penalty on the embedding rows a batch uses, in the mini-batch-aware form of the DIN paper:
    /// the training loss gains <c>EmbeddingL2 * sum ||w_j||^2</c> over the distinct rows j of every table
    /// that the batch looks up (history, target, sampled negatives, user and extra fields). Rows a batch does
    /// not use are neither read nor changed, so the cost follows the batch, not the table size. 0 turns it off.
    /// </summary>
    /// <value>The default value is 0: with Adam, the reference's 1e-6 hardly changes a step, and 1e-4 gave no gain on Amazon Beauty (docs/research/quality-history.md).</value>
    public double EmbeddingL2 { get; set; }

    /// <summary>
    /// Whether the user id has an embedding table and feeds the head. When test users never occur in training
    /// (data split by user, as the authors' files and this library's converters are), every test user gets the
    /// one untrained unknown-user row while every training user has a learned one, so the field teaches the
    /// head something that does not transfer; turn it on only when the users you score are seen in training.
    /// </summary>
    /// <value>The default value is false, because data split by user (the authors' files, this library's converters) never shows a test user in training (docs/research/quality-history.md).</value>
    public bool UseUserField { get; set; }

    /// <summary>
    /// Whether the head also reads the sum-pooled history and its product with the target,
    /// [sum e_t ; e_a * sum e_t], beside each model's own interest (the authors' code feeds both). BaseModel's
    /// interest is the sum itself, so there this adds only the product.
    /// </summary>
    /// <value>
    /// The default value is true, as the authors' code, which both development sets confirm (docs/results.md). On a
    /// small training set DIEN can fit the product e_a * sum e_t instead of the order of the behaviours (the
    /// synthetic workload): turn them off there.
    /// </value>
    public bool HeadSumTerms { get; set; } = true;

    /// <summary>Hidden width H of the interest extractor and the interest-evolution GRU.</summary>
    /// <value>The default value is 36.</value>
    public int HiddenSize { get; set; } = 36;

    /// <summary>The interest-evolution layer.</summary>
    /// <value>The default value is <see cref="EvolutionVariant.Augru"/>, the paper's AUGRU, which led the authors'-code form on validation (docs/research/quality-history.md).</value>
    public EvolutionVariant Evolution { get; set; } = EvolutionVariant.Augru;

    /// <summary>The attention of the target ad over the extractor states.</summary>
    /// <value>The default value is <see cref="AttentionForm.Mlp"/> (the authors' code and the benchmark workload).</value>
    public AttentionForm Attention { get; set; } = AttentionForm.Mlp;

    /// <summary>How the attention's scores become weights (DIN's pooling and DIEN's evolution gates).</summary>
    /// <value>The default value is <see cref="AttentionNormalization.Softmax"/>, the paper's eq. 8 and the authors' code; the sigmoid was no better on real data (docs/research/quality-history.md).</value>
    public AttentionNormalization AttentionNormalization { get; set; } = AttentionNormalization.Softmax;

    /// <summary>Hidden layers of the MLP attention (sigmoid activations, as in the authors' code).</summary>
    /// <value>The default value is 80, 40.</value>
    public IList<int> AttentionHiddenSizes { get; set; } = new List<int> { 80, 40 };

    /// <summary>The auxiliary loss form.</summary>
    /// <value>The default value is <see cref="AuxiliaryLossForm.NextBehaviour"/>.</value>
    public AuxiliaryLossForm AuxiliaryLoss { get; set; } = AuxiliaryLossForm.NextBehaviour;

    /// <summary>The scorer of the next-behaviour auxiliary loss.</summary>
    /// <value>The default value is <see cref="AuxiliaryScorer.Mlp"/>.</value>
    public AuxiliaryScorer AuxiliaryScorer { get; set; } = AuxiliaryScorer.Mlp;

    /// <summary>Hidden layers of the auxiliary MLP scorer (sigmoid activations).</summary>
    /// <value>The default value is 100, 50.</value>
    public IList<int> AuxiliaryHiddenSizes { get; set; } = new List<int> { 100, 50 };

    /// <summary>
    /// Weight of the auxiliary loss: loss = L_target + alpha * L_aux (the paper and the authors' code use 1). Zero
    /// switches the auxiliary path off and costs nothing; any positive value needs sampled negatives (or history
    /// labels) in the training batches.
    /// </summary>
    /// <value>
    /// The default value is 1, the paper's and the authors' weight: the auxiliary loss is DIEN's defining part, and
    /// the development sets do not agree against it (docs/results.md). To let your own validation users decide, try
    /// 0 and 1 with <c>Dien.Training.Selection.SettingGrid</c> and <c>ValidationChoice</c>.
    /// </value>
    public double Alpha { get; set; } = 1;

    /// <summary>Hidden layers of the head MLP.</summary>
    /// <value>The default value is 200, 80.</value>
    public IList<int> HeadHiddenSizes { get; set; } = new List<int> { 200, 80 };

    /// <summary>Activation of the head's hidden layers.</summary>
    /// <value>The default value is <see cref="HeadActivation.PRelu"/>.</value>
    public HeadActivation HeadActivation { get; set; } = HeadActivation.PRelu;

    /// <summary>
    /// Whether the head normalises its input with BatchNorm (as the authors' code does). Its batch statistics
    /// must resemble the whole data's: do not bucket training batches by history length
    /// (<c>BatcherOptions.BucketByLength</c>), or the statistics of the length-dependent sum pool swing from batch
    /// to batch and evaluation, with the running averages, sees inputs no training batch looked like.
    /// </summary>
    /// <value>The default value is true, as the authors' code, which both development sets confirm (docs/results.md).</value>
    public bool HeadBatchNorm { get; set; } = true;

    /// <summary>Dropout probability after each hidden layer of the head.</summary>
    /// <value>The default value is 0.</value>
    public double HeadDropout { get; set; }

    /// <summary>The head's output.</summary>
    /// <value>The default value is <see cref="HeadOutput.Sigmoid"/>.</value>
    public HeadOutput HeadOutput { get; set; } = HeadOutput.Sigmoid;

    /// <summary>
    /// Whether the fused C# kernels run on CPU: the two recurrences (forward and backward over all steps in one
    /// call), the MLP attention, the next-behaviour auxiliary scorer, the head's layers while training (with PReLU)
    /// and, in <c>CtrTrainer</c>, the Adam update.
    /// Off, or on another device, every one of them runs as the libtorch composition, which is the reference the
    /// kernels are tested against.
    /// </summary>
    /// <value>The default value is true.</value>
    public bool UseFusedKernels { get; set; } = true;

    /// <summary>Width E of a behaviour: item plus category embedding.</summary>
    public int BehaviourSize => ItemEmbeddingSize + CategoryEmbeddingSize;

    /// <summary>The embedding tables these options describe.</summary>
    internal EmbeddingOptions ToEmbeddingOptions() => new()
    {
        ItemVocabularySize = ItemVocabularySize,
        CategoryVocabularySize = CategoryVocabularySize,
        UserVocabularySize = UserVocabularySize,
        ExtraFieldVocabularySizes = ExtraFieldVocabularySizes.ToArray(),
        ItemEmbeddingSize = ItemEmbeddingSize,
        CategoryEmbeddingSize = CategoryEmbeddingSize,
        UserEmbeddingSize = UserEmbeddingSize,
        ItemMaxNorm = ItemMaxNorm,
        Init = EmbeddingInit,
        InitScale = EmbeddingInitScale,
        UseUserField = UseUserField,
    };

    /// <summary>The table sizes a batch's ids are checked against.</summary>
    internal VocabularySizes ToVocabularySizes() =>
        new(ItemVocabularySize, CategoryVocabularySize, UserVocabularySize, ExtraFieldVocabularySizes.ToArray());

    /// <summary>Every problem with these options, each naming its option; empty when they are valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new OptionErrors();
        void Require(bool ok, string option, object? value, string rule) => errors.Require(ok, option, value, rule);

        Require(ItemVocabularySize >= 2, nameof(ItemVocabularySize), ItemVocabularySize, "must be at least 2 (id 0 is padding)");
        Require(CategoryVocabularySize >= 2, nameof(CategoryVocabularySize), CategoryVocabularySize, "must be at least 2 (id 0 is padding)");
        Require(UserVocabularySize >= 1, nameof(UserVocabularySize), UserVocabularySize, "must be at least 1");
        if (ExtraFieldVocabularySizes is null)
        {
            errors.Add($"{nameof(ExtraFieldVocabularySizes)} = null: use an empty list for no extra fields.");
        }
        else
        {
            for (int i = 0; i < ExtraFieldVocabularySizes.Count; i++)
            {
                Require(ExtraFieldVocabularySizes[i] >= 1, $"{nameof(ExtraFieldVocabularySizes)}[{i}]", ExtraFieldVocabularySizes[i], "must be at least 1");
            }
        }

        Require(ItemEmbeddingSize > 0, nameof(ItemEmbeddingSize), ItemEmbeddingSize, "must be positive");
        Require(CategoryEmbeddingSize > 0, nameof(CategoryEmbeddingSize), CategoryEmbeddingSize, "must be positive");
        Require(UserEmbeddingSize > 0, nameof(UserEmbeddingSize), UserEmbeddingSize, "must be positive");
        Require(ItemMaxNorm is null || (ItemMaxNorm > 0 && double.IsFinite(ItemMaxNorm.Value)), nameof(ItemMaxNorm), ItemMaxNorm, "must be positive and finite, or null");
        Require(Enum.IsDefined(EmbeddingInit), nameof(EmbeddingInit), EmbeddingInit, "is not a defined initialisation");
        Require(EmbeddingInitScale > 0 && double.IsFinite(EmbeddingInitScale), nameof(EmbeddingInitScale), EmbeddingInitScale, "must be positive and finite");
        Require(EmbeddingL2 >= 0 && double.IsFinite(EmbeddingL2), nameof(EmbeddingL2), EmbeddingL2, "must be zero or positive and finite");
        Require(HiddenSize > 0, nameof(HiddenSize), HiddenSize, "must be positive");
        Require(Enum.IsDefined(Evolution), nameof(Evolution), Evolution, "is not a defined variant");
        Require(Enum.IsDefined(Attention), nameof(Attention), Attention, "is not a defined form");
        Require(Enum.IsDefined(AttentionNormalization), nameof(AttentionNormalization), AttentionNormalization, "is not a defined normalisation");
        Require(Enum.IsDefined(AuxiliaryLoss), nameof(AuxiliaryLoss), AuxiliaryLoss, "is not a defined form");
        Require(Enum.IsDefined(AuxiliaryScorer), nameof(AuxiliaryScorer), AuxiliaryScorer, "is not a defined scorer");
        Require(Enum.IsDefined(HeadActivation), nameof(HeadActivation), HeadActivation, "is not a defined activation");
        Require(Enum.IsDefined(HeadOutput), nameof(HeadOutput), HeadOutput, "is not a defined output");
        RequireSizes(errors, nameof(AttentionHiddenSizes), AttentionHiddenSizes, allowEmpty: true);
        RequireSizes(errors, nameof(AuxiliaryHiddenSizes), AuxiliaryHiddenSizes, allowEmpty: true);
        RequireSizes(errors, nameof(HeadHiddenSizes), HeadHiddenSizes, allowEmpty: true);
        Require(Alpha >= 0 && double.IsFinite(Alpha), nameof(Alpha), Alpha, "must be zero or positive and finite");
        Require(HeadDropout >= 0 && HeadDropout < 1, nameof(HeadDropout), HeadDropout, "must be in [0, 1)");

        bool innerProductAux = Alpha > 0 && (AuxiliaryLoss == AuxiliaryLossForm.LabelledHistory || AuxiliaryScorer == AuxiliaryScorer.InnerProduct);
        Require(!innerProductAux || HiddenSize == BehaviourSize, nameof(HiddenSize), HiddenSize,
            $"must equal the behaviour width {nameof(ItemEmbeddingSize)} + {nameof(CategoryEmbeddingSize)} = {BehaviourSize} when the auxiliary loss uses the inner product h_t . e");
        return errors.Errors;
    }

    /// <summary>Throws when <see cref="Validate"/> finds any problem.</summary>
    /// <exception cref="CtrModelOptionsException">One or more options are invalid; the message lists them all.</exception>
    public void EnsureValid()
    {
        var errors = Validate();
        if (errors.Count > 0)
        {
            throw new CtrModelOptionsException(errors);
        }
    }

    /// <summary>A deep copy, so that a model keeps the options it was built with.</summary>
    public CtrModelOptions Clone()
    {
        var copy = (CtrModelOptions)MemberwiseClone();
        copy.ExtraFieldVocabularySizes = ExtraFieldVocabularySizes is null ? null! : new List<long>(ExtraFieldVocabularySizes);
        copy.AttentionHiddenSizes = AttentionHiddenSizes is null ? null! : new List<int>(AttentionHiddenSizes);
        copy.AuxiliaryHiddenSizes = AuxiliaryHiddenSizes is null ? null! : new List<int>(AuxiliaryHiddenSizes);
        copy.HeadHiddenSizes = HeadHiddenSizes is null ? null! : new List<int>(HeadHiddenSizes);
        return copy;
    }

    private static void RequireSizes(OptionErrors errors, string option, IList<int>? sizes, bool allowEmpty)
    {
        if (sizes is null)
        {
            errors.Add($"{option} = null: give a list of layer widths{(allowEmpty ? " (it may be empty)" : string.Empty)}.");
            return;
        }

        if (!allowEmpty && sizes.Count == 0)
        {
            errors.Add($"{option} is empty: give at least one layer width.");
        }

        for (int i = 0; i < sizes.Count; i++)
        {
            if (sizes[i] <= 0)
            {
                errors.Add($"{option}[{i}] = {sizes[i]}: layer widths must be positive.");
            }
        }
    }
}

/// <summary>Thrown when <see cref="CtrModelOptions"/> are invalid; <see cref="OptionsException.Errors"/> lists every problem.</summary>
public sealed class CtrModelOptionsException : OptionsException
{
    /// <summary>Creates the exception from the list of problems.</summary>
    /// <param name="errors">One sentence per problem, each naming its option.</param>
    public CtrModelOptionsException(IReadOnlyList<string> errors)
        : base(nameof(CtrModelOptions), errors)
    {
    }
}
