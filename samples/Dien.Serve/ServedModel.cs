using System.Globalization;
using System.Security.Cryptography;
using Dien.Inference;

namespace Dien.Serve;

/// <summary>
/// One loaded checkpoint: its predictor, its version (the file's SHA-256 and time) and its id maps. Requests hold a
/// lease while they use it; a model swapped out is disposed when its last lease ends, so no request ever sees a
/// disposed model or one version's ids scored by another version's weights.
/// </summary>
public sealed class ServedModel
{
    /// <summary>The stored map from item index to category index (the training sample writes it).</summary>
    public const string ItemCategoryMap = "item_category";

    private readonly object _gate = new();
    private readonly IReadOnlyDictionary<string, long>? _users;
    private readonly IReadOnlyDictionary<string, long>? _items;
    private readonly IReadOnlyDictionary<string, long>? _categories;
    private readonly Dictionary<long, long> _itemCategories = new();
    private int _leases;
    private bool _retired;
    private bool _disposed;

    private ServedModel(DienPredictor predictor, string path, string sha256, DateTimeOffset fileTime)
    {
        Predictor = predictor;
        Path = path;
        Sha256 = sha256;
        FileTime = fileTime;
        LoadedAt = DateTimeOffset.UtcNow;
        var maps = predictor.Vocabularies;
        _users = maps.GetValueOrDefault("users");
        _items = maps.GetValueOrDefault("items");
        _categories = maps.GetValueOrDefault("categories");
        if (maps.TryGetValue(ItemCategoryMap, out var itemCategories))
        {
            foreach (var (item, category) in itemCategories)
            {
                if (long.TryParse(item, NumberStyles.Integer, CultureInfo.InvariantCulture, out long index))
                {
                    _itemCategories[index] = category;
                }
            }
        }
    }

    /// <summary>The predictor.</summary>
    public DienPredictor Predictor { get; }

    /// <summary>The checkpoint file.</summary>
    public string Path { get; }

    /// <summary>SHA-256 of the file, lower-case hex.</summary>
    public string Sha256 { get; }

    /// <summary>The short version: the first 12 hex digits of <see cref="Sha256"/>.</summary>
    public string Version => Sha256[..12];

    /// <summary>The file's last write time (UTC).</summary>
    public DateTimeOffset FileTime { get; }

    /// <summary>When this process loaded it.</summary>
    public DateTimeOffset LoadedAt { get; }

    /// <summary>The model kind stored in the checkpoint's options and manifest.</summary>
    public string Kind { get; private init; } = "";

    /// <summary>
    /// Loads and verifies a checkpoint (every entry's CRC and SHA-256, then one smoke call). The file is hashed before
    /// and after the load; if a writer replaced it meanwhile the load is refused, to be retried on the next change.
    /// </summary>
    /// <param name="path">The checkpoint.</param>
    /// <returns>The loaded model.</returns>
    /// <exception cref="Dien.Checkpoints.CheckpointException">The file is damaged or unusable.</exception>
    /// <exception cref="IOException">The file changed while it was read.</exception>
    public static ServedModel Load(string path)
    {
        var (sha, time) = Fingerprint(path);
        var predictor = DienPredictor.Load(path);
        try
        {
            string kind = Dien.Checkpoints.Checkpoint.ReadHeader(path).Kind;
            var (after, _) = Fingerprint(path);
            if (after != sha)
            {
                throw new IOException($"{path} changed while it was loaded; it will be loaded again.");
            }

            // One call through the whole model before it takes traffic: a model that cannot score is refused here.
            var probe = predictor.ScoreCandidates(0, [0], [0], [0], [0],
                predictor.Options.ExtraFieldVocabularySizes.Count == 0 ? null : new long[predictor.Options.ExtraFieldVocabularySizes.Count]);
            if (probe.Length != 1 || !float.IsFinite(probe[0]))
            {
                throw new Dien.Checkpoints.CheckpointException(path, $"the model's probe score is {probe.FirstOrDefault()}, not a probability.");
            }

            return new ServedModel(predictor, path, sha, time) { Kind = kind };
        }
        catch
        {
            predictor.Dispose();
            throw;
        }
    }

    /// <summary>SHA-256 and last write time of a file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The hash (hex) and the time.</returns>
    public static (string Sha256, DateTimeOffset Time) Fingerprint(string path)
    {
        using var stream = File.OpenRead(path);
        string sha = Convert.ToHexStringLower(SHA256.HashData(stream));
        return (sha, File.GetLastWriteTimeUtc(path));
    }

    /// <summary>Takes a lease; false when the model was retired (read the current one again).</summary>
    /// <returns>Whether the lease was taken.</returns>
    public bool TryAcquire()
    {
        lock (_gate)
        {
            if (_retired)
            {
                return false;
            }

            _leases++;
            return true;
        }
    }

    /// <summary>Ends a lease; disposes the predictor if this was the last lease of a retired model.</summary>
    public void Release()
    {
        lock (_gate)
        {
            _leases--;
            DisposeIfDone();
        }
    }

    /// <summary>Takes no more leases; disposes the predictor once the current ones end.</summary>
    public void Retire()
    {
        lock (_gate)
        {
            _retired = true;
            DisposeIfDone();
        }
    }

    /// <summary>The user's index, or 0 (unknown).</summary>
    /// <param name="raw">The raw id.</param>
    /// <returns>The index.</returns>
    public long User(string raw) => Map(raw, _users, Predictor.Options.UserVocabularySize);

    /// <summary>The item's index, or 0 (unknown).</summary>
    /// <param name="raw">The raw id.</param>
    /// <returns>The index.</returns>
    public long Item(string raw) => Map(raw, _items, Predictor.Options.ItemVocabularySize);

    /// <summary>The category's index (given raw, or the item's stored category when null), or 0 (unknown).</summary>
    /// <param name="raw">The raw category id, or null.</param>
    /// <param name="item">The item's index.</param>
    /// <returns>The index.</returns>
    public long Category(string? raw, long item) => raw is not null
        ? Map(raw, _categories, Predictor.Options.CategoryVocabularySize)
        : _itemCategories.GetValueOrDefault(item);

    /// <summary>
    /// Through the stored vocabulary when there is one; otherwise the raw id is the index itself (the synthetic data),
    /// known when it is a number in 1 .. size - 1.
    /// </summary>
    private static long Map(string raw, IReadOnlyDictionary<string, long>? vocabulary, long size)
    {
        if (vocabulary is not null)
        {
            return vocabulary.TryGetValue(raw, out long index) && index > 0 && index < size ? index : 0;
        }

        return long.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out long id) && id > 0 && id < size ? id : 0;
    }

    private void DisposeIfDone()
    {
        if (_retired && _leases == 0 && !_disposed)
        {
            _disposed = true;
            Predictor.Dispose();
        }
    }
}
