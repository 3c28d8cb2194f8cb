using System.Diagnostics.Metrics;

namespace Dien.Serve;

/// <summary>The service's own instruments (meter <see cref="MeterName"/>); the scorer's are on <c>Dien.Inference</c>.</summary>
public sealed class ServeMetrics
{
    /// <summary>The meter's name (for dotnet-counters or OpenTelemetry).</summary>
    public const string MeterName = "Dien.Serve";

    private readonly Histogram<double> _duration;
    private readonly Histogram<int> _candidates;
    private readonly Counter<long> _unknown;

    /// <summary>Creates the instruments.</summary>
    /// <param name="meterFactory">The host's meter factory.</param>
    public ServeMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _duration = meter.CreateHistogram<double>("dien.serve.request.duration", "s", "Time to answer a rank or score request, by endpoint and status code.");
        _candidates = meter.CreateHistogram<int>("dien.serve.request.candidates", "{candidate}", "Candidates per rank or score request.");
        _unknown = meter.CreateCounter<long>("dien.serve.unknown_ids", "{id}", "Ids not in the served model's vocabularies (scored as id 0), by kind (user, item, category).");
    }

    /// <summary>Records one answered request.</summary>
    /// <param name="endpoint">rank or score.</param>
    /// <param name="status">The HTTP status code.</param>
    /// <param name="seconds">How long it took.</param>
    public void Request(string endpoint, int status, double seconds) =>
        _duration.Record(seconds, new KeyValuePair<string, object?>("endpoint", endpoint), new KeyValuePair<string, object?>("status", status));

    /// <summary>Records a request's size and unknown ids.</summary>
    /// <param name="candidates">Its candidates.</param>
    /// <param name="unknown">Its unknown ids.</param>
    public void Scored(int candidates, UnknownIds unknown)
    {
        _candidates.Record(candidates);
        Add("user", unknown.Users);
        Add("item", unknown.Items);
        Add("category", unknown.Categories);
    }

    private void Add(string kind, int count)
    {
        if (count > 0)
        {
            _unknown.Add(count, new KeyValuePair<string, object?>("kind", kind));
        }
    }
}
