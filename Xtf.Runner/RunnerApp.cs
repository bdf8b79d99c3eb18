using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Core.Testing.Benchmarks;
using Xtf.Core.Testing.Conformance;
using Xtf.Core.Testing.Reports;
using Xtf.Core.Testing.Upstream;
using Xtf.Core.Xen;

namespace Xtf.Runner;

/// <summary>
/// xtf-runner's command: list or run a selection and report as upstream does. Output goes to the
/// given writers and the exit code is returned, so the whole command runs inside a test.
/// Runner errors (bad options, a selection that names nothing) are one <c>Error: ...</c> line on
/// stderr and exit code 1.
/// </summary>
internal sealed class RunnerApp
{
    /// <summary>Exit code of a runner error (xtf-runner's RunnerError).</summary>
    public const int RunnerErrorExitCode = 1;

    private readonly TestCatalog catalog;
    private readonly ITestEngine engine;
    private readonly TextWriter stdout;
    private readonly TextWriter stderr;
    private readonly bool interactive;
    private readonly Func<string, string?> environment;
    private readonly RunInterruption? interruption;
    private readonly bool listenToSignals;

    private readonly Argument<string[]> conformancePaths = new("PATH")
    {
        Description = "SingleStepTests MOO files (.MOO or .MOO.gz) or directories holding them",
        Arity = ArgumentArity.ZeroOrMore,
    };

    private readonly Option<bool> conformanceVerbose = new("--verbose", "-v") { Description = "List every failing test with its differences" };

    private readonly Option<bool> conformanceNative = new("--native") { Description = "Run random register-only snippets on the host processor and on our CPU and compare (x86-64 Linux)" };
    private readonly Option<int> conformanceCount = new("--count") { Description = $"With --native: snippets per family (default {NativeConformanceCommand.DefaultCount})" };
    private readonly Option<int> conformanceSeed = new("--seed") { Description = "With --native: the first snippet's seed (default 1); snippet k uses seed + k" };
    private readonly Option<string> conformanceFamily = new("--family") { Description = "With --native: only this family (alu, shift, bit, muldiv, cc, move)" };

    /// <param name="catalog">The tests a selection picks from.</param>
    /// <param name="engine">Runs one instance.</param>
    /// <param name="stdout">Listings, console logs and the results table.</param>
    /// <param name="stderr">Runner errors, and the live progress line when <paramref name="interactive"/>.</param>
    /// <param name="interactive">Whether stderr is a terminal: a progress line is redrawn there with \r. Never when redirected.</param>
    /// <param name="environment">Reads an environment variable (<c>XTF_DIR</c>); null reads none, so tests are not steered by the caller's environment.</param>
    /// <param name="interruption">How a run is interrupted; null: a run is never interrupted.</param>
    /// <param name="listenToSignals">Whether a run hands SIGINT/SIGTERM to <paramref name="interruption"/> (the process's own runner); tests call <see cref="RunInterruption.Request"/> instead.</param>
    public RunnerApp(TestCatalog catalog, ITestEngine engine, TextWriter stdout, TextWriter stderr, bool interactive = false, Func<string, string?>? environment = null, RunInterruption? interruption = null, bool listenToSignals = false)
    {
        this.interruption = interruption;
        this.listenToSignals = listenToSignals;
        this.environment = environment ?? (_ => null);
        this.catalog = catalog;
        this.engine = engine;
        this.stdout = stdout;
        this.stderr = stderr;
        this.interactive = interactive;
    }

    /// <summary>The app over the services <c>AddXtf()</c> registered.</summary>
    public static RunnerApp FromServices(IServiceProvider services, TextWriter stdout, TextWriter stderr, bool interactive = false, Func<string, string?>? environment = null, RunInterruption? interruption = null, bool listenToSignals = false) =>
        new(services.GetRequiredService<TestCatalog>(), services.GetRequiredService<ITestEngine>(), stdout, stderr, interactive, environment, interruption, listenToSignals);

    public int Run(IReadOnlyList<string> args)
    {
        try
        {
            return RunCore(args);
        }
        catch (SelectionException e)
        {
            return Error(e.Message);
        }
        catch (RunnerException e)
        {
            return Error(e.Message);
        }
        catch (ConformanceDataException e)
        {
            return Error(e.Message);
        }
        catch (UpstreamTreeException e)
        {
            return Error(e.Message);
        }
    }

    /// <summary>Writes <c>Error: message</c> as one line on stderr; returns the runner-error exit code.</summary>
    internal static int WriteError(TextWriter stderr, string message)
    {
        stderr.WriteLine($"Error: {OneLine(message)}");
        return RunnerErrorExitCode;
    }

    /// <summary>A message on one line: its lines joined with spaces.</summary>
    internal static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private int Error(string message) => WriteError(stderr, message);

    private int RunCore(IReadOnlyList<string> args)
    {
        // `conformance` is a command of its own; any other first word is the default command's selection.
        if (args.Count > 0 && args[0] == ConformanceCommand.Name)
            return RunConformance(args.Skip(1).ToList());
        if (args.Count > 0 && args[0] == BenchCommand.Name)
            return RunBench(args.Skip(1).ToList());
        if (args.Count > 0 && args[0] == FuzzCommand.Name)
            return new FuzzCommand(stdout, stderr).Run(args.Skip(1).ToList());
        if (args.Count > 0 && args[0] == "info")
            return RunInfo(args.Skip(1).ToList());
        if (args.Count > 0 && args[0] == NewCommand.Name)
            return new NewCommand(this.catalog, stdout, stderr, Environment.CurrentDirectory).Run(args.Skip(1).ToList());

        var cli = new RunCommandLine();
        var root = cli.Build();
        var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });

        if (parse.Errors.Count > 0)
            return Error(parse.Errors[0].Message);

        // The root command has no action of its own, so any action here is --help, --version or a
        // directive: let System.CommandLine carry it out, writing to our writers.
        if (parse.Action is not null)
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });


        string[] tokens = parse.GetValue(cli.Selection) ?? [];

        // An unknown option would otherwise be taken as a selection token; no test name starts with '-'.
        if (tokens.FirstOrDefault(t => t.StartsWith('-')) is { } unknown)
            throw new RunnerException($"Unrecognised option '{unknown}'");

        var catalog = Catalog(parse.GetValue(cli.XtfDir), parse.GetValue(cli.Builtin));
        int quiet = parse.GetResult(cli.Quiet)?.IdentifierTokenCount ?? 0;
        var settings = OptionValues.Settings(
            parse.GetResult(cli.Budget) is null ? null : parse.GetValue(cli.Budget),
            parse.GetResult(cli.Timeout) is null ? null : parse.GetValue(cli.Timeout));
        settings = OptionValues.Watchdog(settings, parse.GetResult(cli.Watchdog) is null ? null : parse.GetValue(cli.Watchdog))
            with
        {
            Fep = OptionValues.Fep(parse.GetValue(cli.Fep)),
            Quirks = OptionValues.ParseQuirks(parse.GetValue(cli.Quirk) ?? []),
            FirmwareEntry = parse.GetValue(cli.FirmwareEntry),
            MsrRelaxed = parse.GetValue(cli.MsrRelaxed),
        };

        Shard? shard = parse.GetValue(cli.Shard) is { } shardText ? Shard.Parse(shardText) : null;
        bool all = parse.GetValue(cli.All), nonDefault = parse.GetValue(cli.NonDefault);
        bool listing = parse.GetValue(cli.List);
        int jobs = OptionValues.PositiveCount(parse.GetValue(cli.Jobs), "-j/--jobs", Environment.ProcessorCount);
        int rounds = OptionValues.PositiveCount(parse.GetValue(cli.Repeat), "--repeat", 1);

        // `--list` on its own lists every instance in the catalog, whatever its category.
        var selection = listing && tokens.Length == 0 && !all && !nonDefault
            ? Selection.Interpret(catalog, [], all: true, nonDefault: true)
            : Selection.Interpret(catalog, tokens, all, nonDefault);
        selection = Selection.WithVariations(catalog, selection, parse.GetValue(cli.Variation) ?? []);

        // --host keeps what the host can run (upstream: xl info's virt_caps and xen_caps). The
        // emulated host has every capability a test can need (pv, pv32, hvm, hap, shadow), so
        // every instance stays; the option is accepted so upstream's `-aqq --host` runs unchanged.
        int unsharded = selection.Count;
        if (shard is { } part)
            selection = part.Of(selection);

        if (parse.GetValue(cli.Environments))
        {
            foreach (var env in GuestEnvironment.AllEnvironments.Select(GuestEnvironment.Name).Order(StringComparer.Ordinal))
                stdout.WriteLine(env);
            return 0;
        }

        if (listing)
        {
            if (unsharded == 0)
                throw new RunnerException("No tests selected");
            foreach (var instance in selection)
                stdout.WriteLine(instance.Id);
            return 0;
        }

        if (unsharded == 0)
            throw new RunnerException("No tests to run");

        var options = new RunOptions
        {
            Quiet = quiet,
            Verbose = parse.GetValue(cli.Verbose),
            Jobs = jobs,
            Rounds = rounds,
            Expectations = OptionValues.ReadExpectations(parse.GetValue(cli.Expect), catalog),
            Logfile = OptionValues.ResultsMode(parse.GetValue(cli.ResultsMode), parse.GetValue(cli.LogfileDir), parse.GetValue(cli.LogfilePattern)),
            Interactive = interactive,
            MarkOrigin = catalog.HasBothOrigins,
        };

        // A shard beyond a small selection has nothing to do; that is not an error in a matrix.
        if (selection.Count == 0)
        {
            stdout.WriteLine($"Shard {shard} of the selection is empty");
            return 0;
        }

        options = options with { LogsDirectory = OptionValues.PrepareLogs(parse.GetValue(cli.Logs)) };
        var reports = RunReports.Open(parse.GetValue(cli.Junit), parse.GetValue(cli.Json));
        return Execute(selection, settings, options, reports);
    }

    /// <summary>
    /// Runs the selection and writes its reports. A SIGINT/SIGTERM (through <see cref="interruption"/>)
    /// stops it as <see cref="RunInterruption"/> says: the table and reports then hold the instances that
    /// ran, the reports are marked incomplete, and the exit code is the signal's. A second signal writes
    /// the reports from what was reported so far and exits at once, unless the run's end beats it.
    /// </summary>
    private int Execute(IReadOnlyList<TestInstance> selection, RunSettings settings, RunOptions options, RunReports reports)
    {
        if (interruption is not null)
        {
            settings = settings with { Interrupt = interruption.Abort };
            options = options with { Stop = interruption.Stop };
        }

        var command = new RunCommand(engine, stdout, stderr, options);
        int planned = selection.Count * options.Rounds;
        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (interruption is not null)
        {
            interruption.SecondSignal = () =>
            {
                // Running instances stop within a budget chunk; give the ordinary end a moment, then
                // leave with the reports of what was reported (a test's C# may never come back).
                if (finished.Task.Wait(SecondSignalWait))
                    return;
                var sofar = command.Reported();
                reports.TryWrite(sofar, new Interruption(interruption.Signal!, planned - sofar.Count));
                stdout.Flush();
                Environment.Exit(interruption.ExitCode);
            };
        }

        using var signals = listenToSignals ? interruption?.Listen() : null;
        int exit = command.Run(selection, settings, () => interruption?.Signal, out var outcomes, out int notRun);
        var interrupted = interruption?.Signal is { } signal ? new Interruption(signal, notRun) : null;
        reports.TryWrite(outcomes, interrupted);
        finished.TrySetResult();
        return interrupted is null ? exit : interruption!.ExitCode;
    }

    /// <summary>How long a second signal waits for the run's own end before it writes the reports itself and exits.</summary>
    private static readonly TimeSpan SecondSignalWait = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The tests a run selects from: ours, or with <c>--xtf-dir DIR</c> (else <c>$XTF_DIR</c>) the
    /// upstream tree's, joined by ours with <c>--builtin</c>. Each info.json upstream's xtf-runner
    /// would skip is skipped with a warning line on stderr.
    /// </summary>
    private TestCatalog Catalog(string? xtfDir, bool builtin)
    {
        xtfDir ??= environment("XTF_DIR") is { Length: > 0 } fromEnvironment ? fromEnvironment : null;
        if (xtfDir is null)
        {
            if (builtin)
                throw new RunnerException("--builtin needs --xtf-dir (or XTF_DIR): our tests are the default selection already");
            return catalog;
        }

        var tree = UpstreamTree.Open(xtfDir);
        foreach (string skipped in tree.Skipped)
            stderr.WriteLine($"Warning: ignoring {OneLine(skipped)}");
        return TestCatalog.FromDescriptors(builtin ? [.. catalog.Tests, .. tree.Tests] : tree.Tests);
    }

    private int RunConformance(IReadOnlyList<string> args)
    {
        var command = new Command(ConformanceCommand.Name, "Run SingleStepTests conformance files (MOO format) against the CPU, or with --native random snippets on the host processor and on the CPU")
        {
            conformancePaths,
            conformanceVerbose,
            conformanceNative,
            conformanceCount,
            conformanceSeed,
            conformanceFamily,
            new System.CommandLine.Help.HelpOption(),
        };
        var parse = command.Parse([ConformanceCommand.Name, .. args], new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Errors.Count > 0)
            return Error(parse.Errors[0].Message);
        if (parse.Action is not null)
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        string[] paths = parse.GetValue(conformancePaths) ?? [];
        if (paths.FirstOrDefault(t => t.StartsWith('-')) is { } unknown)
            throw new RunnerException($"Unrecognised option '{unknown}'");
        bool verbose = parse.GetValue(conformanceVerbose);
        if (parse.GetValue(conformanceNative))
        {
            if (paths.Length > 0)
                throw new RunnerException("conformance --native takes no PATH: its snippets are generated");
            return new NativeConformanceCommand(stdout).Run(
                parse.GetResult(conformanceCount) is null ? NativeConformanceCommand.DefaultCount : parse.GetValue(conformanceCount),
                parse.GetResult(conformanceSeed) is null ? 1 : parse.GetValue(conformanceSeed),
                parse.GetValue(conformanceFamily),
                verbose);
        }

        if (new Option[] { conformanceCount, conformanceSeed, conformanceFamily }.FirstOrDefault(o => parse.GetResult(o) is not null) is { } nativeOnly)
            throw new RunnerException($"{nativeOnly.Name} needs --native");
        if (paths.Length == 0)
            throw new RunnerException("conformance needs PATH... (SingleStepTests MOO files) or --native");
        return new ConformanceCommand(stdout).Run(paths, verbose);
    }

    /// <summary>
    /// <c>xtf-runner info NAME</c>: the test's info.json (name, category, environments,
    /// variations; and title and guarded quirks) on stdout. NAME may carry the <c>test-</c> prefix.
    /// </summary>
    /// <summary>
    /// <c>info [--xtf-dir DIR] NAME</c>: the test's info.json, from our catalog or, with
    /// <c>--xtf-dir</c> or <c>XTF_DIR</c>, from the upstream tree's (as the run command chooses).
    /// </summary>
    private int RunInfo(IReadOnlyList<string> args)
    {
        const string usage = "usage: xtf-runner info [--xtf-dir DIR] NAME";
        string? xtfDir = null;
        var rest = new List<string>();
        for (int k = 0; k < args.Count; k++)
        {
            if (args[k] == "--xtf-dir" && k + 1 < args.Count)
                xtfDir = args[++k];
            else if (args[k].StartsWith("--xtf-dir=", StringComparison.Ordinal))
                xtfDir = args[k]["--xtf-dir=".Length..];
            else
                rest.Add(args[k]);
        }

        if (rest.Count != 1 || rest[0].StartsWith('-') || xtfDir is "")
            throw new RunnerException(usage);
        string name = rest[0].StartsWith("test-", StringComparison.Ordinal) ? rest[0]["test-".Length..] : rest[0];
        var test = Catalog(xtfDir, builtin: false).Find(name) ?? throw new RunnerException($"Unrecognised test '{rest[0]}'");
        using var buffer = new MemoryStream();
        TestInfo.Write(buffer, test);
        stdout.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
        return 0;
    }

    private int RunBench(IReadOnlyList<string> args) => new BenchCommand(catalog, engine, stdout, stderr).Run(args);
}
