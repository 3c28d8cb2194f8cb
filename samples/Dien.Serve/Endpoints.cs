using System.Diagnostics;
using System.Text.Json;
using Dien.Inference;
using Microsoft.Extensions.Options;

namespace Dien.Serve;

/// <summary>The HTTP surface: POST /rank, POST /score, GET /healthz, /readyz, /model, and the model-version headers.</summary>
public static class Endpoints
{
    /// <summary>Header with the short version (12 hex digits of the checkpoint's SHA-256) of the model that answered.</summary>
    public const string VersionHeader = "X-Model-Version";

    /// <summary>Header with the checkpoint's full SHA-256.</summary>
    public const string ShaHeader = "X-Model-Sha256";

    /// <summary>Header with the checkpoint file's write time (ISO 8601, UTC).</summary>
    public const string TimeHeader = "X-Model-Time";

    private const string ModelKey = "Dien.Serve.Model";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Adds the headers, the request metrics and the endpoints.</summary>
    /// <param name="app">The application.</param>
    public static void Map(WebApplication app)
    {
        var host = app.Services.GetRequiredService<ModelHost>();
        var metrics = app.Services.GetRequiredService<ServeMetrics>();
        app.Use(async (context, next) =>
        {
            context.Response.OnStarting(() =>
            {
                // The version that scored this request; for other requests the one served now.
                if ((context.Items[ModelKey] as ServedModel ?? host.Current) is { } model)
                {
                    context.Response.Headers[VersionHeader] = model.Version;
                    context.Response.Headers[ShaHeader] = model.Sha256;
                    context.Response.Headers[TimeHeader] = model.FileTime.ToString("o", System.Globalization.CultureInfo.InvariantCulture);
                }

                return Task.CompletedTask;
            });
            string? endpoint = context.Request.Path.Value switch { "/rank" => "rank", "/score" => "score", _ => null };
            long start = Stopwatch.GetTimestamp();
            try
            {
                await next(context);
            }
            finally
            {
                if (endpoint is not null)
                {
                    metrics.Request(endpoint, context.Response.StatusCode, Stopwatch.GetElapsedTime(start).TotalSeconds);
                }
            }
        });

        var bodyLimit = app.Services.GetRequiredService<RequestBodyLimit>();
        app.MapPost("/rank", (HttpContext context, IOptions<ServeOptions> options) => ScoreAsync(context, host, metrics, options.Value, bodyLimit, rank: true));
        app.MapPost("/score", (HttpContext context, IOptions<ServeOptions> options) => ScoreAsync(context, host, metrics, options.Value, bodyLimit, rank: false));
        app.MapGet("/healthz", () => Results.Ok(new { status = "alive" }));
        app.MapGet("/readyz", (IHostApplicationLifetime lifetime) =>
            host.Current is null ? Results.Problem(statusCode: 503, title: "Not ready: no model is loaded.", detail: $"Waiting for a usable checkpoint at {host.CheckpointPath}.")
            : lifetime.ApplicationStopping.IsCancellationRequested ? Results.Problem(statusCode: 503, title: "Not ready: shutting down.")
            : Results.Ok(new { status = "ready", model = host.Current.Version }));
        app.MapGet("/model", (IOptions<ServeOptions> options) =>
        {
            var model = host.Current;
            var o = options.Value;
            var limits = new { maxCandidates = o.MaxCandidates, maxHistory = o.MaxHistory, maxRequestBodyBytes = bodyLimit.Bytes };
            var batching = new { o.Batching.Enabled, o.Batching.MaxWaitMilliseconds, o.Batching.MaxBatchRows, o.Batching.MaxQueuedRows, queuedRows = host.Scorer.QueuedRows };
            if (model is null)
            {
                return Results.Json(new { path = host.CheckpointPath, loaded = false, limits, batching, lastReload = host.LastReload }, statusCode: 503);
            }

            var m = model.Predictor.Options;
            return Results.Ok(new
            {
                path = model.Path,
                loaded = true,
                kind = model.Kind,
                formatVersion = model.Predictor.Contents!.FormatVersion,
                historyCut = model.MaxHistoryLength,
                version = model.Version,
                sha256 = model.Sha256,
                checkpointTime = model.FileTime,
                loadedAt = model.LoadedAt,
                vocabularies = new { users = m.UserVocabularySize, items = m.ItemVocabularySize, categories = m.CategoryVocabularySize, extraFields = m.ExtraFieldVocabularySizes },
                limits,
                batching,
                lastReload = host.LastReload,
            });
        });
    }

    private static async Task<IResult> ScoreAsync(HttpContext context, ModelHost host, ServeMetrics metrics, ServeOptions options, RequestBodyLimit bodyLimit, bool rank)
    {
        IResult TooLarge() => Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "The request body is too large.",
            detail: $"At most {bodyLimit.Bytes:N0} bytes are allowed ({RequestBodyLimit.Key}).");

        if (context.Request.ContentLength > bodyLimit.Bytes)
        {
            return TooLarge();
        }

        ScoreRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync<ScoreRequest>(bodyLimit.Wrap(context.Request.Body), Json, context.RequestAborted);
        }
        catch (RequestBodyTooLargeException)
        {
            return TooLarge();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge(); // Kestrel's own check of the same limit
        }
        catch (JsonException e)
        {
            string field = e.Path is null or "$" ? "$" : e.Path.StartsWith("$.", StringComparison.Ordinal) ? e.Path[2..] : e.Path;
            return Invalid(field, $"The body is not a valid request at {e.Path ?? "$"}: {e.Message.Split(" Path:")[0]}");
        }

        var errors = Validate(request, options);
        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors, title: "The request is not valid.");
        }

        var model = host.Acquire();
        if (model is null)
        {
            return Results.Problem(statusCode: 503, title: "No model is loaded.", detail: $"Waiting for a usable checkpoint at {host.CheckpointPath}.");
        }

        context.Items[ModelKey] = model;
        try
        {
            int unknownItems = 0, unknownCategories = 0;
            long Item(ItemRef r, out long category)
            {
                long item = model.Item(r.Item!);
                category = model.Category(r.Category, item);
                unknownItems += item == 0 ? 1 : 0;
                unknownCategories += category == 0 ? 1 : 0;
                return item;
            }

            var history = request!.History!;
            var candidates = request.Candidates!;
            var historyItems = new long[history.Count];
            var historyCategories = new long[history.Count];
            for (int i = 0; i < history.Count; i++)
            {
                historyItems[i] = Item(history[i]!, out historyCategories[i]);
            }

            var candidateItems = new long[candidates.Count];
            var candidateCategories = new long[candidates.Count];
            for (int i = 0; i < candidates.Count; i++)
            {
                candidateItems[i] = Item(candidates[i]!, out candidateCategories[i]);
            }

            long user = model.User(request.User!);
            int fields = model.Predictor.Options.ExtraFieldVocabularySizes.Count;
            var unknown = new UnknownIds(user == 0 ? 1 : 0, unknownItems, unknownCategories);
            var scores = await host.Scorer.ScoreCandidatesAsync(
                model.Predictor, user, historyItems, historyCategories, candidateItems, candidateCategories,
                fields == 0 ? null : new long[fields], context.RequestAborted);
            metrics.Scored(candidates.Count, unknown);
            if (!rank)
            {
                return Results.Ok(new ScoreResponse(model.Version, scores, unknown));
            }

            var order = Enumerable.Range(0, scores.Length).OrderByDescending(i => scores[i]).ThenBy(i => i);
            return Results.Ok(new RankResponse(model.Version, order.Select(i => new RankedItem(candidates[i]!.Item!, scores[i])).ToList(), unknown));
        }
        catch (ScorerOverloadedException e)
        {
            context.Response.Headers.RetryAfter = "1";
            return Results.Problem(statusCode: 503, title: "Overloaded: the request was shed.", detail: e.Message);
        }
        catch (ObjectDisposedException)
        {
            return Results.Problem(statusCode: 503, title: "Shutting down.");
        }
        finally
        {
            model.Release();
        }
    }

    private static IResult Invalid(string field, string message) =>
        Results.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, title: "The request is not valid.");

    /// <summary>Every problem of a request, keyed by the field's JSON path (e.g. <c>candidates[3].item</c>).</summary>
    private static Dictionary<string, string[]> Validate(ScoreRequest? request, ServeOptions options)
    {
        var errors = new Dictionary<string, string[]>();
        if (request is null)
        {
            errors["$"] = ["The body must be a JSON object with user, history and candidates."];
            return errors;
        }

        if (string.IsNullOrWhiteSpace(request.User))
        {
            errors["user"] = ["Required: the user's raw id (an unknown user is allowed and scored as the unknown user)."];
        }

        CheckList(errors, "history", request.History, 1, options.MaxHistory, "behaviours (send the most recent ones)");
        CheckList(errors, "candidates", request.Candidates, 1, options.MaxCandidates, "candidates");
        return errors;
    }

    private static void CheckList(Dictionary<string, string[]> errors, string name, List<ItemRef?>? list, int min, int max, string what)
    {
        if (list is null || list.Count < min)
        {
            errors[name] = [$"Required: at least {min} {what}."];
            return;
        }

        if (list.Count > max)
        {
            errors[name] = [$"{list.Count} {what}: at most {max} are allowed per request (Serve:{(name == "history" ? "MaxHistory" : "MaxCandidates")})."];
            return;
        }

        for (int i = 0; i < list.Count; i++)
        {
            if (list[i] is null)
            {
                errors[$"{name}[{i}]"] = ["Must be an object with an item (and optionally a category)."];
            }
            else if (string.IsNullOrWhiteSpace(list[i]!.Item))
            {
                errors[$"{name}[{i}].item"] = ["Required: the item's raw id."];
            }
            else if (list[i]!.Category is { } category && string.IsNullOrWhiteSpace(category))
            {
                errors[$"{name}[{i}].category"] = ["Must not be empty; leave it out to use the item's own category."];
            }
        }
    }
}
