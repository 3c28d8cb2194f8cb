namespace Dien.Data.Converters;

/// <summary>What a number in an event log's time column counts: text instants and Parquet timestamps carry their own unit.</summary>
public enum EventTimeUnit
{
    /// <summary>Unix seconds (MovieLens, Taobao, most exports).</summary>
    Seconds,

    /// <summary>Unix milliseconds (JavaScript and Kafka timestamps).</summary>
    Milliseconds,
}
