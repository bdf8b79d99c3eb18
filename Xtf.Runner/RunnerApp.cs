using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Core.Testing.Benchmarks;
using Xtf.Core.Testing.Conformance;
using Xtf.Core.Testing.Reports;
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

    private readonly Argument<string[]> selectionArgument = new("SELECTION")
    {
        Description = "Categories, environments (or pv, hvm) and tests [[test-]ENV-]NAME[~VARIATION]",
        Arity = ArgumentArity.ZeroOrMore,
    };

    private readonly Option<bool> listOption = new("--list", "-l") { Description = "List tests in the selection" };
    private readonly Option<bool> allOption = new("--all", "-a") { Description = "Select all default categories" };
    private readonly Option<bool> nonDefaultOption = new("--non-default") { Description = "Select all non default categories" };
    private readonly Option<bool> environmentsOption = new("--environments") { Description = "List all the known environments" };

    private readonly Option<bool> quietOption = new("--quiet", "-q")
    {
        Description = "Progressively make the output less verbose. 1) No console logs, only test results. 2) Not even SUCCESS results.",
        Arity = ArgumentArity.Zero,
    };

    private readonly Option<long> budgetOption = new("--budget")
    {
        Description = "Instruction budget per instance; an instance that exhausts it is a CRASH",
        HelpName = "N",
    };

    private readonly Option<double> timeoutOption = new("--timeout")
    {
        Description = "Wall-clock limit per instance, in seconds; an instance that exceeds it is a CRASH",
        HelpName = "SECONDS",
    };

    private readonly Option<string> fepOption = new("--fep")
    {
        Description = "Xen's hvm_fep: whether the forced emulation prefix reaches the hypervisor's emulator (default on)",
        HelpName = "on|off",
    };

    private readonly Option<string[]> quirkOption = new("--quirk")
    {
        Description = "Re-create a historical emulator bug in every instance (repeatable): " + string.Join(", ", Quirks.Names),
        HelpName = "NAME",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    private readonly Option<string> shardOption = new("--shard")
    {
        Description = "Run only shard K of N of the selection (instance i goes to shard i mod N + 1), for splitting a matrix across machines",
        HelpName = "K/N",
    };

    private readonly Option<string> junitOption = new("--junit")
    {
        Description = "Also write the results as a JUnit XML report to FILE (one testcase per instance, the console log as system-out)",
        HelpName = "FILE",
    };

    private readonly Option<string> jsonOption = new("--json")
    {
        Description = "Also write the results as JSON to FILE (the worst result, then each instance with its result and console log)",
        HelpName = "FILE",
    };

    private readonly Option<string> logsOption = new("--logs")
    {
        Description = "Write each instance's console log to DIR/<instance id>.log (the directory is created if needed)",
        HelpName = "DIR",
    };

    private readonly Argument<string[]> conformancePaths = new("PATH")
    {
        Description = "SingleStepTests MOO files (.MOO or .MOO.gz) or directories holding them",
        Arity = ArgumentArity.OneOrMore,
    };

    private readonly Option<bool> conformanceVerbose = new("--verbose", "-v") { Description = "List every failing test with its differences" };

    public RunnerApp(TestCatalog catalog, ITestEngine engine, TextWriter stdout, TextWriter stderr)
    {
        this.catalog = catalog;
        this.engine = engine;
        this.stdout = stdout;
        this.stderr = stderr;
    }

    /// <summary>The app over the services <c>AddXtf()</c> registered.</summary>
    public static RunnerApp FromServices(IServiceProvider services, TextWriter stdout, TextWriter stderr) =>
        new(services.GetRequiredService<TestCatalog>(), services.GetRequiredService<ITestEngine>(), stdout, stderr);

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
    }

    /// <summary>Writes <c>Error: message</c> as one line on stderr; returns the runner-error exit code.</summary>
    internal static int WriteError(TextWriter stderr, string message)
    {
        stderr.WriteLine($"Error: {OneLine(message)}");
        return RunnerErrorExitCode;
    }

    private static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private int Error(string message) => WriteError(stderr, message);

    private RootCommand BuildCommand()
    {
        var root = new RootCommand("Xen Test Framework enumeration and running tool (Xtf.NET). "
            + "`xtf-runner conformance PATH...` runs SingleStepTests conformance files (see `xtf-runner conformance --help`); "
            + "`xtf-runner bench` measures the CPU (see `xtf-runner bench --help`); "
            + "`xtf-runner info NAME` prints a test's info.json.")
        {
            selectionArgument,
            listOption,
            allOption,
            nonDefaultOption,
            environmentsOption,
            quietOption,
            budgetOption,
            timeoutOption,
            fepOption,
            quirkOption,
            shardOption,
            junitOption,
            jsonOption,
            logsOption,
        };
        return root;
    }

    private int RunCore(IReadOnlyList<string> args)
    {
        // `conformance` is a command of its own; any other first word is the default command's selection.
        if (args.Count > 0 && args[0] == ConformanceCommand.Name)
            return RunConformance(args.Skip(1).ToList());
        if (args.Count > 0 && args[0] == BenchCommand.Name)
            return RunBench(args.Skip(1).ToList());
        if (args.Count > 0 && args[0] == "info")
            return RunInfo(args.Skip(1).ToList());
        if (args.Count > 0 && args[0] == NewCommand.Name)
            return new NewCommand(catalog, stdout, stderr, Environment.CurrentDirectory).Run(args.Skip(1).ToList());

        var root = BuildCommand();
        var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });

        if (parse.Errors.Count > 0)
            return Error(parse.Errors[0].Message);

        // The root command has no action of its own, so any action here is --help, --version or a
        // directive: let System.CommandLine carry it out, writing to our writers.
        if (parse.Action is not null)
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });


        string[] tokens = parse.GetValue(selectionArgument) ?? [];

        // An unknown option would otherwise be taken as a selection token; no test name starts with '-'.
        if (tokens.FirstOrDefault(t => t.StartsWith('-')) is { } unknown)
            throw new RunnerException($"Unrecognised option '{unknown}'");

        int quiet = parse.GetResult(quietOption)?.IdentifierTokenCount ?? 0;
        var settings = Settings(
            parse.GetResult(budgetOption) is null ? null : parse.GetValue(budgetOption),
            parse.GetResult(timeoutOption) is null ? null : parse.GetValue(timeoutOption))
            with
        {
            Fep = Fep(parse.GetValue(fepOption)),
            Quirks = ParseQuirks(parse.GetValue(quirkOption) ?? []),
        };

        Shard? shard = parse.GetValue(shardOption) is { } shardText ? Shard.Parse(shardText) : null;
        bool all = parse.GetValue(allOption), nonDefault = parse.GetValue(nonDefaultOption);
        bool listing = parse.GetValue(listOption);

        // `--list` on its own lists every instance in the catalog, whatever its category.
        var selection = listing && tokens.Length == 0 && !all && !nonDefault
            ? Selection.Interpret(catalog, [], all: true, nonDefault: true)
            : Selection.Interpret(catalog, tokens, all, nonDefault);
        int unsharded = selection.Count;
        if (shard is { } part)
            selection = part.Of(selection);

        if (parse.GetValue(environmentsOption))
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

        // A shard beyond a small selection has nothing to do; that is not an error in a matrix.
        if (selection.Count == 0)
        {
            stdout.WriteLine($"Shard {shard} of the selection is empty");
            return 0;
        }

        logsDirectory = PrepareLogs(parse.GetValue(logsOption));
        using var junit = OpenReport(parse.GetValue(junitOption), "--junit");
        using var json = OpenReport(parse.GetValue(jsonOption), "--json");
        int exit = RunAll(selection, settings, quiet, out var outcomes);
        if (junit is not null)
            JUnitReport.Write(junit, outcomes);
        if (json is not null)
        {
            json.Flush();
            JsonReport.Write(json.BaseStream, outcomes);
        }

        return exit;
    }

    private int RunConformance(IReadOnlyList<string> args)
    {
        var command = new Command(ConformanceCommand.Name, "Run SingleStepTests conformance files (MOO format) against the CPU")
        {
            conformancePaths,
            conformanceVerbose,
            new System.CommandLine.Help.HelpOption(),
        };
        var parse = command.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Errors.Count > 0)
            return Error(parse.Errors[0].Message);
        if (parse.Action is not null)
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        string[] paths = parse.GetValue(conformancePaths) ?? [];
        if (paths.FirstOrDefault(t => t.StartsWith('-')) is { } unknown)
            throw new RunnerException($"Unrecognised option '{unknown}'");
        return new ConformanceCommand(stdout).Run(paths, parse.GetValue(conformanceVerbose));
    }

    /// <summary>
    /// <c>xtf-runner info NAME</c>: the test's info.json (name, category, environments,
    /// variations; and title and guarded quirks) on stdout. NAME may carry the <c>test-</c> prefix.
    /// </summary>
    private int RunInfo(IReadOnlyList<string> args)
    {
        if (args.Count != 1 || args[0].StartsWith('-'))
            throw new RunnerException("usage: xtf-runner info NAME");
        string name = args[0].StartsWith("test-", StringComparison.Ordinal) ? args[0]["test-".Length..] : args[0];
        var test = catalog.Find(name) ?? throw new RunnerException($"Unrecognised test '{args[0]}'");
        using var buffer = new MemoryStream();
        TestInfo.Write(buffer, test);
        stdout.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
        return 0;
    }

    private int RunBench(IReadOnlyList<string> args)
    {
        var instructions = new Option<long>("--instructions")
        {
            Description = "Instructions per workload",
            DefaultValueFactory = _ => BenchCommand.DefaultInstructions,
            HelpName = "N",
        };
        var workloads = new Argument<string[]>("WORKLOAD")
        {
            Description = "Workloads to run (default: all of " + string.Join(", ", CpuBenchmarks.Names) + ")",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var command = new Command(BenchCommand.Name, "Measure the CPU: MIPS of guest workloads and their ratio to Iced's raw decode rate (use a Release build)")
        {
            workloads,
            instructions,
            new System.CommandLine.Help.HelpOption(),
        };
        var parse = command.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Errors.Count > 0)
            return Error(parse.Errors[0].Message);
        if (parse.Action is not null)
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        long n = parse.GetValue(instructions);
        if (n <= 0)
            throw new RunnerException($"--instructions must be a positive number, not {n}");
        var names = parse.GetValue(workloads) is { Length: > 0 } chosen ? chosen : [.. CpuBenchmarks.Names];
        if (names.FirstOrDefault(w => !CpuBenchmarks.Names.Contains(w)) is { } unknown)
            throw new RunnerException($"Unknown workload '{unknown}' (known: {string.Join(", ", CpuBenchmarks.Names)})");
        return BenchCommand.Run(stdout, n, names);
    }

    private static RunSettings Settings(long? budget, double? timeoutSeconds)
    {
        var settings = new RunSettings();
        if (budget is { } b)
        {
            if (b <= 0)
                throw new RunnerException($"--budget must be a positive number of instructions, not {b}");
            settings = settings with { InstructionBudget = b };
        }

        if (timeoutSeconds is { } t)
        {
            if (!double.IsFinite(t) || t <= 0 || t > TimeSpan.MaxValue.TotalSeconds)
                throw new RunnerException($"--timeout must be a positive number of seconds, not {t}");
            settings = settings with { Timeout = TimeSpan.FromSeconds(t) };
        }

        return settings;
    }

    /// <summary>--fep on|off (absent: on, Xen's debug builds as XTF's CI runs them).</summary>
    private static bool Fep(string? value) => value switch
    {
        null or "on" => true,
        "off" => false,
        _ => throw new RunnerException($"--fep must be 'on' or 'off', not '{value}'"),
    };

    private static IReadOnlySet<Quirk> ParseQuirks(IEnumerable<string> names)
    {
        var quirks = new HashSet<Quirk>();
        foreach (string name in names)
        {
            if (!Quirks.TryParse(name, out var quirk))
                throw new RunnerException($"Unknown quirk '{name}' (known: {string.Join(", ", Quirks.Names)})");
            quirks.Add(quirk);
        }

        return quirks.Count == 0 ? Quirks.None : quirks;
    }

    private string? logsDirectory;

    /// <summary>Creates the --logs directory before anything runs; one that cannot be made is the user's error.</summary>
    private static string? PrepareLogs(string? directory)
    {
        if (directory is null)
            return null;
        try
        {
            return Directory.CreateDirectory(directory).FullName;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new RunnerException($"--logs: cannot create '{directory}': {e.Message}");
        }
    }

    /// <summary>One instance's console log, exactly as the guest wrote it, in its own file.</summary>
    private void WriteInstanceLog(InstanceOutcome outcome)
    {
        if (logsDirectory is null)
            return;
        string path = Path.Combine(logsDirectory, outcome.Instance.Id + ".log");
        try
        {
            File.WriteAllText(path, outcome.ConsoleLog, System.Text.Encoding.Latin1);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RunnerException($"--logs: cannot write '{path}': {e.Message}");
        }
    }

    /// <summary>Opens a report file before anything runs, so a path that cannot be written is the user's error at once.</summary>
    private static StreamWriter? OpenReport(string? path, string option)
    {
        if (path is null)
            return null;
        try
        {
            return new StreamWriter(path, append: false, new System.Text.UTF8Encoding(false));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new RunnerException($"{option}: cannot write '{path}': {e.Message}");
        }
    }

    private int RunAll(IReadOnlyList<TestInstance> selection, RunSettings settings, int quiet, out IReadOnlyList<InstanceOutcome> outcomes)
    {
        outcomes = MatrixRun.Run(engine, selection, settings, jobs: 1, inOrder: (_, outcome) =>
        {
            WriteInstanceLog(outcome);
            if (quiet == 0)
            {
                foreach (var line in outcome.Lines)
                    stdout.WriteLine(line);
                if (outcome.Result == TestResult.Crash && !string.IsNullOrEmpty(outcome.Diagnostic))
                    stdout.WriteLine(OneLine(outcome.Diagnostic));
                stdout.WriteLine();
            }
        });

        var worst = TestResult.Success;
        stdout.WriteLine("Combined test results:");
        foreach (var outcome in outcomes)
        {
            if (outcome.Result > worst)
                worst = outcome.Result;
            if (outcome.Result == TestResult.Success && quiet >= 2)
                continue;
            stdout.WriteLine($"{outcome.Instance.Id,-40} {TestResults.Name(outcome.Result)}");
        }

        return TestResults.ExitCode(worst);
    }
}
