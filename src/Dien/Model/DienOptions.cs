using Dien.Attention;
using Dien.Auxiliary;
using Dien.Data.Batching;
using Dien.Embeddings;
using Dien.Evolution;
using Dien.Head;
using Dien.Runtime;

namespace Dien.Model;

/// <summary>
/// Everything that shapes a DIEN model (and the BaseModel and DIN baselines built from the same parts).
/// Defaults follow the authors' runs unless the figures next to a default say otherwise. <see cref="Validate"/> runs once when a
/// model is built and reports every problem together, each naming its option.
/// </summary>
public sealed class DienOptions
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
    /// <value>Empty.</value>
    public IList<long> ExtraFieldVocabularySizes { get; set; } = new List<long>();

    /// <summary>Width of an item embedding.</summary>
    /// <value>18.</value>
    public int ItemEmbeddingSize { get; set; } = 18;

    /// <summary>Width of a category embedding.</summary>
    /// <value>18.</value>
    public int CategoryEmbeddingSize { get; set; } = 18;

    /// <summary>Width of the user embedding and of each extra field's embedding.</summary>
    /// <value>18.</value>
    public int UserEmbeddingSize { get; set; } = 18;

    /// <summary>Optional max-norm of item embedding rows (renormalised at lookup, as PyTorch's max_norm).</summary>
    /// <value>null (no limit). The seed example uses 1.</value>
    public double? ItemMaxNorm { get; set; }

    /// <summary>
    /// How every embedding table starts (items, categories, user, extra fields); the padding row stays zero.
    /// </summary>
    /// <value><see cref="EmbeddingInitialization.Normal"/>, with <see cref="EmbeddingInitScale"/> as its standard deviation.</value>
    public EmbeddingInitialization EmbeddingInit { get; set; } = EmbeddingInitialization.Normal;

    /// <summary>
    /// The scale of <see cref="EmbeddingInit"/>: the standard deviation for <see cref="EmbeddingInitialization.Normal"/>,
    /// the bound for <see cref="EmbeddingInitialization.Uniform"/>.
    /// </summary>
    /// <value>
    /// 0.01, as the PyTorch reference. With TorchSharp's own N(0, 1) on Amazon Beauty (seed 1) the validation AUC
    /// fell from 0.8400 to 0.8088 (BaseModel), 0.8563 to 0.8172 (DIN) and 0.8556 to 0.8313 (DIEN), and every model
    /// needed twice the epochs: Adam moves a row about 1e-3 a step, so unit-scale rows stay nearly random for long
    /// (docs/results.md).
    /// </value>
    public double EmbeddingInitScale { get; set; } = 0.01;

    /// <summary>
    /// The L2 penalty on the embedding rows a batch uses, in the mini-batch-aware form of the DIN paper:
    /// the training loss gains <c>EmbeddingL2 * sum ||w_j||^2</c> over the distinct rows j of every table
    /// that the batch looks up (history, target, sampled negatives, user and extra fields). Rows a batch does
    /// not use are neither read nor changed, so the cost follows the batch, not the table size. 0 turns it off.
    /// </summary>
    /// <value>
    /// 0. Not yet measured on real data at a strength that matters: with Adam, 1e-6 (the reference's value, on its
    /// whole tables) hardly changes a step; try 1e-4 to 1e-2 on a validation split.
    /// </value>
    public double EmbeddingL2 { get; set; }

    /// <summary>
    /// Whether the user id has an embedding table and feeds the head. When test users never occur in training
    /// (data split by user, as the authors' files and this library's converters are), every test user gets the
    /// one untrained unknown-user row while every training user has a learned one, so the field teaches the
    /// head something that does not transfer; turn it on only when the users you score are seen in training.
    /// </summary>
    /// <value>
    /// false. On Amazon Beauty (test users unseen in training, seed 1) the user field lowered BaseModel's validation
    /// AUC from 0.8400 to 0.8327 (docs/results.md).
    /// </value>
    public bool UseUserField { get; set; }

    /// <summary>
    /// Whether the head also reads the sum-pooled history and its product with the target,
    /// [sum e_t ; e_a * sum e_t], beside each model's own interest (the authors' code feeds both). BaseModel's
    /// interest is the sum itself, so there this adds only the product.
    /// </summary>
    /// <value>
    /// true. On Amazon Beauty (unbucketed batches, seed 1) they raised the validation AUC of BaseModel from 0.8400
    /// to 0.8492, of DIN from 0.8563 to 0.8574 and of DIEN from 0.8556 to 0.8563 (docs/results.md). With batches
    /// bucketed by length and BatchNorm they had hurt DIN and DIEN, through the skewed batch statistics of the sum.
    /// On small training sets DIEN can fit the product e_a * sum e_t instead of the order of the behaviours: on the
    /// synthetic workload (16,000 training samples) its test AUC was 0.63 with the terms and 0.87 without, so turn
    /// them off for DIEN there (the sample does).
    /// </value>
    public bool HeadSumTerms { get; set; } = true;

    /// <summary>Hidden width H of the interest extractor and the interest-evolution GRU.</summary>
    /// <value>36.</value>
    public int HiddenSize { get; set; } = 36;

    /// <summary>The interest-evolution layer.</summary>
    /// <value>
    /// <see cref="EvolutionVariant.Augru"/> (the paper's AUGRU). On Amazon Beauty it beat the authors' code form
    /// (<see cref="EvolutionVariant.AugruAuthorsCode"/>) on validation AUC, 0.8556 against 0.8493 over seeds 1-3. The
    /// authors' form learns faster at the start, because it updates like a plain GRU where the attention is still
    /// flat: on the synthetic workload it learned the recent interest in one epoch (docs/results.md).
    /// </value>
    public EvolutionVariant Evolution { get; set; } = EvolutionVariant.Augru;

    /// <summary>The attention of the target ad over the extractor states.</summary>
    /// <value><see cref="AttentionForm.Mlp"/> (the authors' code and the benchmark workload).</value>
    public AttentionForm Attention { get; set; } = AttentionForm.Mlp;

    /// <summary>How the attention's scores become weights (DIN's pooling and DIEN's evolution gates).</summary>
    /// <value>
    /// <see cref="AttentionNormalization.Softmax"/> (paper eq. 8 and the authors' code). On Amazon Beauty DIEN's
    /// validation AUC was 0.8563 and 0.8518 with it against 0.8524 and 0.8524 with
    /// <see cref="AttentionNormalization.Sigmoid"/> (seeds 1, 2). The sigmoid lets DIEN's AUGRU move from the first
    /// step, since a weight does not start near 1/L: on the synthetic workload it learned the recent interest with
    /// the head's sum terms on (test AUC 0.860, 0.852, 0.820 against 0.625-0.632 with the softmax; docs/results.md).
    /// </value>
    public AttentionNormalization AttentionNormalization { get; set; } = AttentionNormalization.Softmax;

    /// <summary>Hidden layers of the MLP attention (sigmoid activations, as in the authors' code).</summary>
    /// <value>80, 40.</value>
    public IList<int> AttentionHiddenSizes { get; set; } = new List<int> { 80, 40 };

    /// <summary>The auxiliary loss form.</summary>
    /// <value><see cref="AuxiliaryLossForm.NextBehaviour"/>.</value>
    public AuxiliaryLossForm AuxiliaryLoss { get; set; } = AuxiliaryLossForm.NextBehaviour;

    /// <summary>The scorer of the next-behaviour auxiliary loss.</summary>
    /// <value><see cref="AuxiliaryScorer.Mlp"/>.</value>
    public AuxiliaryScorer AuxiliaryScorer { get; set; } = AuxiliaryScorer.Mlp;

    /// <summary>Hidden layers of the auxiliary MLP scorer (sigmoid activations).</summary>
    /// <value>100, 50.</value>
    public IList<int> AuxiliaryHiddenSizes { get; set; } = new List<int> { 100, 50 };

    /// <summary>
    /// Weight of the auxiliary loss: loss = L_target + alpha * L_aux (the paper and the authors' code use 1). Zero
    /// switches the auxiliary path off and costs nothing; any positive value needs sampled negatives (or history
    /// labels) in the training batches.
    /// </summary>
    /// <value>
    /// 0. On Amazon Beauty the auxiliary loss cost DIEN its predictions for each user's newest item, which is what a
    /// test file split by user asks for: on the held-out users' last pairs the validation AUC was 0.8344, 0.8403 and
    /// 0.8296 with alpha 0 against 0.8264, 0.8276 and 0.8202 with alpha 1 (seeds 1-3), and over all their samples
    /// 0.8571, 0.8562 and 0.8587 against 0.8563, 0.8518 and 0.8587; alpha 0.2 fell between (0.8316 on the last
    /// pairs, seed 1). An epoch also takes about a tenth less time. Beauty's histories are short (median 5); on
    /// longer ones, where the paper measured the loss's gain, try 1 and compare on your validation users
    /// (docs/results.md).
    /// </value>
    public double Alpha { get; set; }

    /// <summary>Hidden layers of the head MLP.</summary>
    /// <value>200, 80.</value>
    public IList<int> HeadHiddenSizes { get; set; } = new List<int> { 200, 80 };

    /// <summary>Activation of the head's hidden layers.</summary>
    /// <value><see cref="HeadActivation.PRelu"/>.</value>
    public HeadActivation HeadActivation { get; set; } = HeadActivation.PRelu;

    /// <summary>
    /// Whether the head normalises its input with BatchNorm (as the authors' code does). Its batch statistics
    /// must resemble the whole data's: do not bucket training batches by history length
    /// (<c>BatcherOptions.BucketByLength</c>), or the statistics of the length-dependent sum pool swing from batch
    /// to batch and evaluation, with the running averages, sees inputs no training batch looked like.
    /// </summary>
    /// <value>
    /// true. On Amazon Beauty (seed 1, validation AUC, without the sum terms) BaseModel and DIN reached 0.8400 and
    /// 0.8563 with it and unbucketed batches; without it (bucketed batches) 0.8377 and 0.8482; with it and bucketed
    /// batches BaseModel fell to 0.7999 (docs/results.md).
    /// </value>
    public bool HeadBatchNorm { get; set; } = true;

    /// <summary>Dropout probability after each hidden layer of the head.</summary>
    /// <value>0.</value>
    public double HeadDropout { get; set; }

    /// <summary>The head's output.</summary>
    /// <value><see cref="HeadOutput.Sigmoid"/>.</value>
    public HeadOutput HeadOutput { get; set; } = HeadOutput.Sigmoid;

    /// <summary>
    /// Whether the fused C# kernels run on CPU: the two recurrences (forward and backward over all steps in one
    /// call), the MLP attention, the next-behaviour auxiliary scorer and, in <c>DienTrainer</c>, the Adam update.
    /// Off, or on another device, every one of them runs as the libtorch composition, which is the reference the
    /// kernels are tested against.
    /// </summary>
    /// <value>true.</value>
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
    /// <exception cref="DienOptionsException">One or more options are invalid; the message lists them all.</exception>
    public void EnsureValid()
    {
        var errors = Validate();
        if (errors.Count > 0)
        {
            throw new DienOptionsException(errors);
        }
    }

    /// <summary>A deep copy, so that a model keeps the options it was built with.</summary>
    public DienOptions Clone()
    {
        var copy = (DienOptions)MemberwiseClone();
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

/// <summary>Thrown when <see cref="DienOptions"/> are invalid; <see cref="OptionsException.Errors"/> lists every problem.</summary>
public sealed class DienOptionsException : OptionsException
{
    /// <summary>Creates the exception from the list of problems.</summary>
    /// <param name="errors">One sentence per problem, each naming its option.</param>
    public DienOptionsException(IReadOnlyList<string> errors)
        : base(nameof(DienOptions), errors)
    {
    }
}
