using System.CommandLine;
using Xtf.Core.Xen;

namespace Xtf.Runner;

/// <summary>
/// xtf-runner's command line for listing and running: the selection argument and every option,
/// upstream's (<c>--list</c>, <c>--all</c>, <c>--non-default</c>, <c>--environments</c>, <c>--host</c>,
/// <c>-m</c>, <c>--logfile-*</c>, <c>-q</c>) and ours.
/// </summary>
internal sealed class RunCommandLine
{
    public Argument<string[]> Selection { get; } = new("SELECTION")
    {
        Description = "Categories, environments (or pv, hvm) and tests [[test-]ENV-]NAME[~VARIATION]",
        Arity = ArgumentArity.ZeroOrMore,
    };

    public Option<bool> List { get; } = new("--list", "-l") { Description = "List tests in the selection" };
    public Option<bool> All { get; } = new("--all", "-a") { Description = "Select all default categories" };
    public Option<bool> NonDefault { get; } = new("--non-default") { Description = "Select all non default categories" };
    public Option<bool> Environments { get; } = new("--environments") { Description = "List all the known environments" };

    public Option<bool> Quiet { get; } = new("--quiet", "-q")
    {
        Description = "Progressively make the output less verbose. 1) No console logs, only test results. 2) Not even SUCCESS results.",
        Arity = ArgumentArity.Zero,
    };

    public Option<long> Budget { get; } = new("--budget")
    {
        Description = "Instruction budget per instance; an instance that exhausts it is a CRASH",
        HelpName = "N",
    };

    public Option<double> Timeout { get; } = new("--timeout")
    {
        Description = "Wall-clock limit per instance, in seconds; an instance that exceeds it is a CRASH",
        HelpName = "SECONDS",
    };

    public Option<double> Watchdog { get; } = new("--watchdog")
    {
        Description = "Host-time limit per instance, the test's own C# included, in seconds (default 60, never less than --timeout + 10); an instance that has not returned by then is a CRASH and the run goes on",
        HelpName = "SECONDS",
    };

    public Option<bool> Verbose { get; } = new("--verbose", "-v")
    {
        Description = "Also print the full stack trace of a host exception that ended an instance on stderr (Xtf.NET's; upstream has no -v)",
    };

    public Option<string> Fep { get; } = new("--fep")
    {
        Description = "Xen's hvm_fep: whether the forced emulation prefix reaches the hypervisor's emulator (default on)",
        HelpName = "on|off",
    };

    public Option<string[]> Quirk { get; } = new("--quirk")
    {
        Description = "Re-create a historical emulator bug in every instance (repeatable): " + string.Join(", ", Quirks.Names),
        HelpName = "NAME",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<string> Shard { get; } = new("--shard")
    {
        Description = "Run only shard K of N of the selection (instance i goes to shard i mod N + 1), for splitting a matrix across machines",
        HelpName = "K/N",
    };

    public Option<string> Junit { get; } = new("--junit")
    {
        Description = "Also write the results as a JUnit XML report to FILE (one testcase per instance, the console log as system-out)",
        HelpName = "FILE",
    };

    public Option<string> Json { get; } = new("--json")
    {
        Description = "Also write the results as JSON to FILE (the worst result, then each instance with its result and console log)",
        HelpName = "FILE",
    };

    public Option<string> Logs { get; } = new("--logs")
    {
        Description = "Write each instance's console log to DIR/<instance id>.log (the directory is created if needed)",
        HelpName = "DIR",
    };

    public Option<string> Jobs { get; } = new("--jobs", "-j")
    {
        Description = "Run N instances at a time (default: the number of processors); the output is that of a serial run",
        HelpName = "N",
    };

    public Option<string[]> Variation { get; } = new("--variation")
    {
        Description = "Keep only instances of this variation (repeatable): the ~VARIATION suffix applied to the whole selection",
        HelpName = "V",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<string> Repeat { get; } = new("--repeat")
    {
        Description = "Run the selection N times (a flakiness hunt); each row shows the worst result and, if the rounds disagree, how often each result came",
        HelpName = "N",
    };

    public Option<string> Expect { get; } = new("--expect")
    {
        Description = "Expected results, lines '<instance id or glob> <RESULT>' (# comments); a mismatch fails the run, an expected result does not",
        HelpName = "FILE",
    };

    public Option<bool> Host { get; } = new("--host")
    {
        Description = "Restrict the selection to tests applicable to the host (the emulator offers pv, pv32, hvm, hap and shadow, so every test is)",
    };

    public Option<string> ResultsMode { get; } = new("--results-mode", "-m")
    {
        Description = "How results are obtained: console (default) or logfile (each console log goes to a file, as xenconsoled writes it, and is read back)",
        HelpName = "console|logfile",
    };

    public Option<string> LogfileDir { get; } = new("--logfile-dir")
    {
        Description = "Directory of the console log files in logfile mode (default: $XDG_STATE_HOME/xtf/console, or ~/.local/state/xtf/console)",
        HelpName = "DIR",
    };

    public Option<string> LogfilePattern { get; } = new("--logfile-pattern")
    {
        Description = "Log file name pattern in logfile mode, %s the instance id (default: \"guest-%s.log\")",
        HelpName = "PATTERN",
    };

    public Option<string> XtfDir { get; } = new("--xtf-dir")
    {
        Description = "Run upstream XTF's own images from this build or install tree (tests/*/info.json, images, cfg files) instead of Xtf.NET's tests; default: $XTF_DIR",
        HelpName = "DIR",
    };

    public Option<bool> Builtin { get; } = new("--builtin")
    {
        Description = "With --xtf-dir: list and run Xtf.NET's own tests beside the upstream ones (the table notes which is which)",
    };

    public Option<bool> FirmwareEntry { get; } = new("--firmware-entry")
    {
        Description = "Upstream HVM images: enter at e_entry with EBX = 0 (libxl's firmware path) instead of the PVH entry with hvm_start_info",
    };

    public Option<bool> MsrRelaxed { get; } = new("--msr-relaxed")
    {
        Description = "Create every domain with xl.cfg's msr_relaxed = 1: MSRs Xen does not implement but the hardware has read as 0 and ignore writes instead of #GP",
    };

    /// <summary>The root command: the selection and every option of a run.</summary>
    public RootCommand Build()
    {
        var root = new RootCommand("Xen Test Framework enumeration and running tool (Xtf.NET). "
            + "`xtf-runner conformance PATH...` runs SingleStepTests conformance files and `xtf-runner conformance --native` compares the CPU with the host processor (see `xtf-runner conformance --help`); "
            + "`xtf-runner bench [--matrix]` measures the CPU or the test matrix (see `xtf-runner bench --help`); `xtf-runner new NAME` writes a new test case (see `xtf-runner new --help`); "
            + "`xtf-runner info NAME` prints a test's info.json.")
        {
            Selection,
            List,
            All,
            NonDefault,
            Environments,
            Quiet,
            Budget,
            Timeout,
            Watchdog,
            Verbose,
            Fep,
            Quirk,
            Shard,
            Junit,
            Json,
            Logs,
            Jobs,
            Variation,
            Repeat,
            Expect,
            Host,
            ResultsMode,
            LogfileDir,
            LogfilePattern,
            XtfDir,
            Builtin,
            FirmwareEntry,
            MsrRelaxed,
        };
        return root;
    }
}
