using Microsoft.Extensions.Options;
using TorchSharp;

namespace Dien.Serve;

/// <summary>Builds the web application (shared by the service, its tests and the load benchmark).</summary>
public static class ServeApp
{
    /// <summary>Builds the application from the command line, appsettings.json and the environment.</summary>
    /// <param name="args">The command line (e.g. <c>--Serve:Checkpoint out/best.dien --urls http://127.0.0.1:5080</c>).</param>
    /// <param name="configure">Changes before the build (the load benchmark sets its own address and settings).</param>
    /// <returns>The application, not yet started.</returns>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        UseSettingsBesideTheApp(builder);
        configure?.Invoke(builder);
        var bodyLimit = CheckSettings(builder.Configuration);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = bodyLimit.Bytes);
        builder.Services.AddSingleton(bodyLimit);
        builder.Services.AddOptions<ServeOptions>().Bind(builder.Configuration.GetSection(ServeOptions.Section)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ServeOptions>, ServeOptionsValidator>();
        builder.Services.AddProblemDetails();
        builder.Services.AddSingleton<ServeMetrics>();
        builder.Services.AddSingleton<ModelHost>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ModelHost>());
        var threads = builder.Configuration.GetValue<int>($"{ServeOptions.Section}:{nameof(ServeOptions.Threads)}");
        if (threads > 0)
        {
            torch.set_num_threads(threads);
        }

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        Endpoints.Map(app);
        return app;
    }

    /// <summary>
    /// The settings' problems before anything starts, so that a bad value is one error naming its key (see
    /// <see cref="SettingsProblem"/>), not a host failing part way.
    /// </summary>
    /// <exception cref="OptionsValidationException">A setting is invalid; <see cref="OptionsValidationException.Failures"/> names each.</exception>
    private static RequestBodyLimit CheckSettings(IConfiguration configuration)
    {
        var problems = new List<string>();
        var serve = new ServeOptions();
        try
        {
            configuration.GetSection(ServeOptions.Section).Bind(serve);
            problems.AddRange(serve.Validate());
        }
        catch (InvalidOperationException e)
        {
            problems.Add(e.Message);
        }

        long bytes = RequestBodyLimit.Default;
        string? text = configuration[RequestBodyLimit.Key];
        if (!string.IsNullOrWhiteSpace(text) && (!long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out bytes) || bytes < 1))
        {
            problems.Add($"{RequestBodyLimit.Key} = {text}: must be a whole number of bytes, at least 1.");
        }

        return problems.Count == 0 ? new RequestBodyLimit(bytes) : throw new OptionsValidationException(ServeOptions.Section, typeof(ServeOptions), problems);
    }

    /// <summary>The one-line description of a settings failure, or null when <paramref name="e"/> is not one.</summary>
    /// <param name="e">What the service failed with.</param>
    /// <returns>The problems, joined; null for other failures.</returns>
    public static string? SettingsProblem(Exception e) => e switch
    {
        OptionsValidationException o => "invalid settings: " + string.Join(" ", o.Failures),
        AggregateException a when a.InnerExceptions.Count > 0 && a.InnerExceptions.All(i => i is OptionsValidationException) =>
            "invalid settings: " + string.Join(" ", a.InnerExceptions.SelectMany(i => ((OptionsValidationException)i).Failures)),
        _ => null,
    };

    /// <summary>
    /// The content root is the current folder (the repository, so the default checkpoint path out/best.dien resolves
    /// there); appsettings.json is read from beside the app when the content root has none. Its place among the sources
    /// is kept, so environment variables and the command line still override it.
    /// </summary>
    private static void UseSettingsBesideTheApp(WebApplicationBuilder builder)
    {
        if (File.Exists(Path.Combine(builder.Environment.ContentRootPath, "appsettings.json")))
        {
            return;
        }

        var sources = ((IConfigurationBuilder)builder.Configuration).Sources;
        for (int i = 0; i < sources.Count; i++)
        {
            if (sources[i] is Microsoft.Extensions.Configuration.Json.JsonConfigurationSource { Path: "appsettings.json" })
            {
                sources[i] = new Microsoft.Extensions.Configuration.Json.JsonConfigurationSource
                {
                    Path = "appsettings.json",
                    Optional = true,
                    FileProvider = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(AppContext.BaseDirectory),
                };
                return;
            }
        }
    }

    private sealed class ServeOptionsValidator : IValidateOptions<ServeOptions>
    {
        public ValidateOptionsResult Validate(string? name, ServeOptions options)
        {
            var problems = options.Validate();
            return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
        }
    }
}
