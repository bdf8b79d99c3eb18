using Iced.Intel;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Xen;

namespace Xtf.Core.Guest;

/// <summary>
/// Base of every test microkernel: the XTF API a test is written against. <see cref="Main"/> is
/// XTF's test_main; everything it does to the machine happens as x86 executed by the emulator.
/// </summary>
public abstract partial class TestCase
{
    private GuestRuntime? runtime;

    /// <summary>XTF's test_main.</summary>
    public abstract void Main();

    /// <summary>XTF's test_setup: runs before Main; a test may skip itself here.</summary>
    public virtual void Setup()
    {
    }

    /// <summary>
    /// XTF's do_unhandled_exception: called for an exception the exception table did not handle.
    /// Return true after fixing up <paramref name="regs"/> to resume; false panics.
    /// </summary>
    public virtual bool UnhandledException(ExceptionFrame regs) => false;

    /// <summary>The runtime of the guest this test is running in.</summary>
    protected GuestRuntime Runtime => runtime ?? throw new InvalidOperationException("the test is not running in a guest");

    /// <summary>The environment the test was booted in.</summary>
    protected Environments Environment { get; private set; }

    /// <summary>The width of the environment's kernel code (32, or 64 in hvm64): what Exec snippets are assembled for.</summary>
    protected int Bitness => Runtime.Bitness;

    /// <summary>The instance's variation, or null.</summary>
    protected string? Variation { get; private set; }

    internal void Attach(GuestRuntime rt) => runtime = rt;

    /// <summary>XTF's xtf_main after arch_setup's traps: consoles, hypercalls, banner, setup, test, exit.</summary>
    internal void Start(GuestConfig config)
    {
        Environment = config.Environment;
        Variation = config.Variation;
        Runtime.InitHypercalls();
        Runtime.SetupPvConsole();
        Printk("--- Xen Test Framework ---\n");
        Printk($"Environment: {GuestEnvironment.Description(config.Environment)}\n");
        Printk(config.Title + "\n");
        ProbeFep();
        if (!StatusReported)
            Setup();
        if (!StatusReported)
            Main();
        Exit();
    }

    /// <summary>XTF's printk: formatted on the host, written by the guest to every console.</summary>
    protected void Printk(string text) => Runtime.Printk(text);

    /// <summary>XTF's <c>%p</c>: a pointer zero-padded to the environment's pointer width.</summary>
    protected string FormatPointer(ulong pointer) =>
        pointer.ToString(Bitness == 64 ? "x16" : "x8", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>XTF's panic: prints the message and crashes the domain. Never returns.</summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    protected void Panic(string message) => Runtime.Panic(message.EndsWith('\n') ? message : message + "\n");

    /// <summary>
    /// Runs an x86 snippet at the current CPL and returns the exception it took (XTF's
    /// <c>_ASM_EXTABLE_HANDLER(..., ex_record_fault_eax)</c> idiom), or <see cref="ExInfo.None"/>.
    /// </summary>
    protected ExInfo Exec(Action<Assembler> code) => Runtime.Exec(code).Fault;

    /// <summary>Runs a snippet and returns its registers too; <paramref name="faults"/> picks the extable behaviour.</summary>
    protected ExecResult ExecDetailed(Action<Assembler> code, ExecFaults faults = ExecFaults.Record, ExtableHandler? handler = null) =>
        Runtime.Exec(code, faults, handler);

    /// <summary>Assembles permanent kernel code and returns its address (for IDT entries and the like).</summary>
    protected ulong AssembleKernelCode(Action<Assembler> code) => Runtime.AssembleKernelCode(code);

    /// <summary>A hypercall through the hypercall page; returns Xen's result (negative errno on error).</summary>
    protected long Hypercall(int number, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, ulong a4 = 0, ulong a5 = 0) =>
        Runtime.Hypercall(number, a1, a2, a3, a4, a5);

    /// <summary>CPUID executed in the guest.</summary>
    protected Cpu.CpuidResult Cpuid(uint leaf, uint subleaf = 0) => Runtime.Cpuid(leaf, subleaf);

    private CpuFeatures? features;

    /// <summary>XTF's cpu_has(): the feature words are collected by CPUID in the guest on first use.</summary>
    protected bool CpuHas(CpuFeature feature) => (features ??= new CpuFeatures(Runtime.Cpuid)).Has(feature);

    /// <summary>XTF's xtf_exit: report the status, then SHUTDOWN_poweroff; panic if that returns.</summary>
    private void Exit()
    {
        ReportStatus();
        _ = Runtime.Shutdown(ShutdownReason.Poweroff);
        Panic("xtf_exit(): hypercall_shutdown(SHUTDOWN_poweroff) returned\n");
    }
}
