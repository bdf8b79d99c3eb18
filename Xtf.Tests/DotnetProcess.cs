using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using NUnit.Framework;

namespace Xtf.Tests;

/// <summary>
/// Runs the <c>dotnet</c> host in a child process (the runner's executable, <c>dotnet test</c>,
/// <c>dotnet build</c>) and captures what it printed; a child that outlives its limit is killed
/// with its whole tree and fails the test. <see cref="Start"/> hands back the running child, to
/// watch its stdout and send it a signal before <see cref="Child.Finish"/>.
/// </summary>
internal static class DotnetProcess
{
    /// <summary>What one child process printed and returned (CRLF turned into LF).</summary>
    public sealed record Output(int ExitCode, string Stdout, string Stderr);

    /// <summary>Runs <c>dotnet ARGS</c>; <paramref name="configure"/> may set the directory or the environment.</summary>
    public static Output Run(IEnumerable<string> args, TimeSpan limit, Action<ProcessStartInfo>? configure = null)
    {
        using var child = Start(args, configure);
        return child.Finish(limit);
    }

    /// <summary>Starts <c>dotnet ARGS</c> and returns at once; disposing the child kills it (and its tree) if it still runs.</summary>
    public static Child Start(IEnumerable<string> args, Action<ProcessStartInfo>? configure = null)
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
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
        return new Child(process, $"dotnet {string.Join(' ', start.ArgumentList)}");
    }

    /// <summary>Whether <see cref="Child.Signal"/> can work here: POSIX kill(2) from libc (probed with signal 0, which sends nothing).</summary>
    public static bool CanSignal()
    {
        if (OperatingSystem.IsWindows())
            return false;
        try
        {
            return kill(Environment.ProcessId, 0) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>POSIX kill(2): sends <paramref name="sig"/> to process <paramref name="pid"/>; 0 on success.</summary>
    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    /// <summary>A running child; its stdout is read as it comes, so a test can wait for a line.</summary>
    public sealed class Child : IDisposable
    {
        private readonly Process process;
        private readonly string description;
        private readonly StringBuilder stdout = new();
        private readonly Task reading;
        private readonly Task<string> stderr;
        private bool ended;

        internal Child(Process process, string description)
        {
            this.process = process;
            this.description = description;
            reading = Task.Run(ReadStdout);
            stderr = process.StandardError.ReadToEndAsync();
        }

        /// <summary>The child's process id.</summary>
        public int Id => process.Id;

        /// <summary>Waits until stdout holds <paramref name="text"/>; false when the child ended or <paramref name="limit"/> passed first.</summary>
        public bool WaitForStdout(string text, TimeSpan limit)
        {
            var clock = Stopwatch.StartNew();
            lock (stdout)
            {
                while (!stdout.ToString().Contains(text, StringComparison.Ordinal))
                {
                    var left = limit - clock.Elapsed;
                    if (ended || left <= TimeSpan.Zero)
                        return false;
                    Monitor.Wait(stdout, left);
                }

                return true;
            }
        }

        /// <summary>Sends signal <paramref name="signo"/> (kill(2)); see <see cref="CanSignal"/>.</summary>
        public void Signal(int signo)
        {
            if (kill(process.Id, signo) != 0)
                throw new InvalidOperationException($"kill({process.Id}, {signo}) failed: errno {Marshal.GetLastPInvokeError()}");
        }

        /// <summary>Waits for the child's end; past <paramref name="limit"/> it is killed with its tree and the test fails.</summary>
        public Output Finish(TimeSpan limit)
        {
            if (!process.WaitForExit(limit))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"{description} did not finish within {limit}");
            }

            process.WaitForExit();
            reading.Wait();
            lock (stdout)
                return new Output(process.ExitCode, Lf(stdout.ToString()), Lf(stderr.Result));
        }

        public void Dispose()
        {
            try
            {
                if (!process.HasExited)
                    process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It ended between the check and the kill.
            }

            process.Dispose();
        }

        private async Task ReadStdout()
        {
            var buffer = new char[4096];
            int n;
            while ((n = await process.StandardOutput.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            {
                lock (stdout)
                {
                    stdout.Append(buffer, 0, n);
                    Monitor.PulseAll(stdout);
                }
            }

            lock (stdout)
            {
                ended = true;
                Monitor.PulseAll(stdout);
            }
        }
    }

    /// <summary>The dotnet host running these tests (the CLI exports it), else the one on PATH.</summary>
    private static string Host() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    private static string Lf(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal);
}
