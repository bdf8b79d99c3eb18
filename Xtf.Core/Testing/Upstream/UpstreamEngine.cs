using System.Diagnostics;
using System.Text;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Toolstack;

namespace Xtf.Core.Testing.Upstream;

/// <summary>
/// Runs one upstream instance as xtf-runner does with <c>xl create -p CFG; xl console</c>: the
/// instance's cfg (<c>tests/NAME/&lt;id&gt;.cfg</c>) names the image and the domain settings, the
/// toolstack builds and runs the domain, and the result comes from what the guest wrote to its PV
/// console, the log <c>xl console</c> shows. What the toolstack had to say (cfg keys not
/// modelled) comes first in the log, as xl's own messages would.
/// </summary>
public static class UpstreamEngine
{
    /// <summary>Boots <paramref name="instance"/> (an upstream test's) and returns its outcome; a missing or bad cfg or image is a CRASH with the reason.</summary>
    public static InstanceOutcome Run(TestInstance instance, RunSettings settings)
    {
        var test = instance.Test.Upstream ?? throw new ArgumentException("not an upstream instance", nameof(instance));
        var sw = Stopwatch.StartNew();
        string cfgPath = test.CfgPath(instance);
        DomainConfig cfg;
        byte[] image;
        try
        {
            cfg = DomainConfig.Parse(File.ReadAllText(cfgPath));
            image = File.ReadAllBytes(ImagePath(cfg, instance, test));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            string what = e is FormatException ? $"{cfgPath}: {e.Message}" : e.Message;
            return Crash(instance, $"xl create: {what}", sw.Elapsed);
        }

        var exit = XlCreate.Run(image, cfg, new ToolstackOptions
        {
            FirmwareEntry = settings.FirmwareEntry,
            InstructionBudget = settings.UpstreamInstructionBudget,
            Timeout = settings.Timeout,
            Interrupt = settings.Interrupt,
            Hypervisor = settings.Hypervisor,
        });
        var text = new StringBuilder();
        foreach (string notice in exit.Notices)
            text.Append(notice).Append('\n');
        text.Append(exit.Console.Text);
        string log = text.ToString();
        var lines = exit.Notices.Concat(exit.Console.Lines).ToList();
        var result = TestResults.FromConsoleLog(lines);
        return new InstanceOutcome(instance, result, log, lines, result == TestResult.Crash ? exit.Reason : null, exit.Instructions, sw.Elapsed)
        {
            HypervisorConsole = exit.HypervisorConsole.Text,
            PvConsole = exit.Console.Text,
        };
    }

    /// <summary>The cfg's <c>kernel</c> (PV) or <c>firmware_override</c> (HVM), as xl loads it; when that path does not exist (a tree moved after it was built), the image beside the cfg.</summary>
    private static string ImagePath(DomainConfig cfg, TestInstance instance, UpstreamTest test)
    {
        string? named = cfg.String("firmware_override") ?? cfg.String("kernel");
        if (named is not null && File.Exists(named))
            return named;
        string beside = test.ImagePath(instance);
        if (File.Exists(beside))
            return beside;
        throw new FileNotFoundException(named is null
            ? $"no image: the cfg names none and {beside} does not exist"
            : $"no image: neither {named} (the cfg's) nor {beside} exists");
    }

    private static InstanceOutcome Crash(TestInstance instance, string reason, TimeSpan elapsed) =>
        new(instance, TestResult.Crash, "", [], reason, 0, elapsed);
}
