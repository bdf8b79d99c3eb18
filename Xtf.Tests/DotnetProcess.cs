using System.Diagnostics;
using NUnit.Framework;

namespace Xtf.Tests;

/// <summary>
/// Runs the <c>dotnet</c> host in a child process (the runner's executable, <c>dotnet test</c>,
/// <c>dotnet build</c>) and captures what it printed; a child that outlives its limit is killed
/// with its whole tree and fails the test.
/// </summary>
internal static class DotnetProcess
{
    /// <summary>What one child process printed and returned (CRLF turned into LF).</summary>
    public sealed record Output(int ExitCode, string Stdout, string Stderr);

    /// <summary>Runs <c>dotnet ARGS</c>; <paramref name="configure"/> may set the directory or the environment.</summary>
    public static Output Run(IEnumerable<string> args, TimeSpan limit, Action<ProcessStartInfo>? configure = null)
    {
        var start = new ProcessStartInfo(Host())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
            start.ArgumentList.Add(a);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        configure?.Invoke(start);

        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', start.ArgumentList)} did not finish within {limit}");
        }

        process.WaitForExit();
        return new Output(process.ExitCode, Lf(stdout.Result), Lf(stderr.Result));
    }

    /// <summary>The dotnet host running these tests (the CLI exports it), else the one on PATH.</summary>
    private static string Host() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    private static string Lf(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal);
}
