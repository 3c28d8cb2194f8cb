using System.Globalization;
using System.Security.Cryptography;
using Dien.Checkpoints;
using Dien.Inference;

namespace Dien.Serve;

/// <summary>
/// One loaded checkpoint: its predictor, its version (the SHA-256 of the bytes loaded, and the file's time) and its id
/// maps, all from the checkpoint's typed contents (<see cref="CheckpointContents"/>) of one read. Requests hold a lease
/// while they use it; a model swapped out is disposed when its last lease ends, so no request ever sees a disposed
/// model or one version's ids scored by another version's weights.
/// </summary>
public sealed class ServedModel
{
    private readonly object _gate = new();
    private readonly CheckpointData _data;
    private int _leases;
    private bool _retired;
    private bool _disposed;

    private ServedModel(CtrPredictor predictor, string path, DateTimeOffset fileTime)
    {
        Predictor = predictor;
        Path = path;
        var contents = predictor.Contents!;
        Sha256 = contents.Sha256;
        Kind = contents.ModelKind;
        _data = contents.Data;
        FileTime = fileTime;
        LoadedAt = DateTimeOffset.UtcNow;
    }

    /// <summary>The predictor.</summary>
    public CtrPredictor Predictor { get; }

    /// <summary>The checkpoint file.</summary>
    public string Path { get; }

    /// <summary>SHA-256 of the bytes loaded, lower-case hex.</summary>
    public string Sha256 { get; }

    /// <summary>The short version: the first 12 hex digits of <see cref="Sha256"/>.</summary>
    public string Version => Sha256[..12];

    /// <summary>The file's last write time (UTC).</summary>
    public DateTimeOffset FileTime { get; }

    /// <summary>When this process loaded it.</summary>
    public DateTimeOffset LoadedAt { get; }

    /// <summary>The model kind stored in the checkpoint.</summary>
    public string Kind { get; }

    /// <summary>The most recent behaviours of a history that are scored (the training cut), or null when the checkpoint records none.</summary>
    public int? MaxHistoryLength => Predictor.MaxHistoryLength;

    /// <summary>
    /// Loads and verifies a checkpoint from one read of the file (every entry's CRC and SHA-256, then a warm-up and one smoke call);
    /// its version is the SHA-256 of exactly the bytes loaded, so a writer replacing the file meanwhile cannot mix two.
    /// </summary>
    /// <param name="path">The checkpoint.</param>
    /// <returns>The loaded model.</returns>
    /// <exception cref="CheckpointException">The file is damaged or unusable.</exception>
    public static ServedModel Load(string path)
    {
        var time = File.GetLastWriteTimeUtc(path);
        var predictor = CtrPredictor.Load(path);
        try
        {
            // The scoring code compiled before traffic (the process's first call would take about 0.2 s), then one
            // call through the whole model: a model that cannot score is refused here.
            predictor.WarmUp();
            var probe = predictor.ScoreCandidates(0, [0], [0], [0], [0],
                predictor.Options.ExtraFieldVocabularySizes.Count == 0 ? null : new long[predictor.Options.ExtraFieldVocabularySizes.Count]);
            if (probe.Length != 1 || !float.IsFinite(probe[0]))
            {
                throw new CheckpointException(path, $"the model's probe score is {probe.FirstOrDefault()}, not a probability.");
            }

            return new ServedModel(predictor, path, time);
        }
        catch
        {
            predictor.Dispose();
            throw;
        }
    }

    /// <summary>SHA-256 and last write time of a file (for callers that compare a file with the served version).</summary>
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
    public long User(string raw) => Map(raw, _data.Users, Predictor.Options.UserVocabularySize);

    /// <summary>The item's index, or 0 (unknown).</summary>
    /// <param name="raw">The raw id.</param>
    /// <returns>The index.</returns>
    public long Item(string raw) => Map(raw, _data.Items, Predictor.Options.ItemVocabularySize);

    /// <summary>The category's index (given raw, or the item's stored category when null), or 0 (unknown; always for the unknown item 0).</summary>
    /// <param name="raw">The raw category id, or null.</param>
    /// <param name="item">The item's index.</param>
    /// <returns>The index.</returns>
    public long Category(string? raw, long item) => raw is not null
        ? Map(raw, _data.Categories, Predictor.Options.CategoryVocabularySize)
        : _data.CategoryOf(item);

    /// <summary>
    /// Through the stored map when it has entries; otherwise the raw id is the index itself (the synthetic data),
    /// known when it is a number in 1 .. size - 1.
    /// </summary>
    private static long Map(string raw, IReadOnlyDictionary<string, long> vocabulary, long size)
    {
        if (vocabulary.Count > 0)
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
