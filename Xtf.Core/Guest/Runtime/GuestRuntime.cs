using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest.Image;
using Xtf.Core.Machine;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Pv;
using Xtf.Core.Xen.Pv.Builder;

namespace Xtf.Core.Guest.Runtime;

/// <summary>
/// XTF's runtime for one guest: the host side of the microkernel. It owns the machine and
/// domain, builds the image, runs the CPU, and dispatches host gates to C#: xtf_main (the test),
/// do_exception (the exception table), and the ends of Exec snippets.
/// </summary>
public sealed partial class GuestRuntime
{
    private readonly GuestConfig config;
    private readonly TestCase test;
    private readonly ulong doExceptionGate;
    private readonly ulong execCaptureGate;
    private readonly ulong execReturnGate;
    private readonly VcpuRun vcpu;

    /// <summary>Builds the machine (guest RAM plus, for PV, Xen's reserved frames), registers the xtf_main, do_exception and Exec gates, and loads the image: the HVM image with its entry point, or the PV kernel through the PV domain builder (start_info command line = the variation). Throws <see cref="NotSupportedException"/> for a configuration the domain cannot provide.</summary>
    public GuestRuntime(TestCase test, GuestConfig config)
    {
        this.test = test;
        this.config = config;
        IsPv = (config.Environment & Environments.Pv) != 0;
        ulong machineBytes = config.MemoryBytes + (IsPv ? XenFrames.Reserved * PhysicalMemory.FrameSize : 0);
        Machine = new VirtualMachine(new MachineOptions { MemoryBytes = machineBytes, InstructionBudget = 0 });
        Cpu = Machine.Cpu;
        Gates = new HostGates(HvmLayout.SupervisorGates, HvmLayout.UserGates);
        Cpu.GateBase = HvmLayout.SupervisorGates;
        Cpu.GateSize = 0x2000;
        ulong xtfMain = Gates.Register("xtf_main", XtfMain);
        doExceptionGate = Gates.Register("do_exception", DoException);
        execCaptureGate = Gates.Register("exec_capture", CaptureExecRegisters);
        execReturnGate = Gates.Register("exec_return", () => throw ReturnOutsideExec());
        if (IsPv)
        {
            var pv = new PvDomain(Machine, config.MemoryBytes / PhysicalMemory.FrameSize, config.Environment == Environments.Pv64, config.Hypervisor);
            ApplyExtraConfig(null, config.ExtraConfig);
            Domain = pv;
            PvDomain = pv;
            var (image, stubs) = PvImageBuilder.Build(Machine.Memory, config.Environment, xtfMain, doExceptionGate);
            pvEntryStubs = stubs;
            StartOfDay = PvDomainBuilder.Build(pv, image with { CommandLine = config.Variation ?? "" });
        }
        else
        {
            var hvm = new HvmDomain(Machine, config.Hypervisor);
            ApplyExtraConfig(hvm, config.ExtraConfig);
            Domain = hvm;
            Entry = HvmImageBuilder.Build(Machine.Memory, config.Environment, xtfMain, doExceptionGate);
        }

        ExecUserSs = UserDs;
        vcpu = new VcpuRun(Cpu, Domain, config.InstructionBudget, config.Timeout, config.Interrupt);
    }

    /// <summary>The emulated machine the guest runs on.</summary>
    public VirtualMachine Machine { get; }

    /// <summary>The domain: an <see cref="HvmDomain"/>, or a <see cref="Xen.Pv.PvDomain"/> in the PV environments.</summary>
    public IXenDomain Domain { get; }

    /// <summary>True in pv32pae and pv64.</summary>
    public bool IsPv { get; }

    /// <summary>The guest's vCPU (the machine's CPU).</summary>
    public X86Cpu Cpu { get; }

    /// <summary>The host gates registered for this guest (supervisor page and user page at <see cref="HvmLayout.SupervisorGates"/> and <see cref="HvmLayout.UserGates"/>).</summary>
    public HostGates Gates { get; }

    /// <summary>XTF's exception table, consulted by do_exception before it panics.</summary>
    public Extable Extable { get; } = new();

    /// <summary>The width of the environment's kernel code: 64 in hvm64 (after boot), 32 otherwise.</summary>
    public int Bitness => config.Environment is Environments.Hvm64 or Environments.Pv64 ? 64 : 32;

    private ulong Entry { get; }

    /// <summary>
    /// Starts the vCPU and runs to the end; returns why the machine stopped. HVM: as Xen's domain
    /// builder does for a PVH-style 32-bit entry: protected mode, paging off, flat 4 GiB CS and
    /// data segments, EFLAGS = 2 (hvm64 too: its boot code enters IA-32e mode itself). PV: the
    /// domain builder has already put the vCPU at the entry point.
    /// </summary>
    public string Run()
    {
        if (!IsPv)
            EnterHvm();
        try
        {
            RunUntil(ulong.MaxValue);
            return "the CPU stopped";
        }
        catch (GuestStoppedException stop)
        {
            return stop.Message;
        }
    }

    private void EnterHvm()
    {
        var cs = Cpu.Segments[X86Cpu.CS];
        cs.Load(HvmLayout.KernelCs, SegmentDescriptor.Code32(0));
        foreach (int seg in new[] { X86Cpu.DS, X86Cpu.ES, X86Cpu.SS, X86Cpu.FS, X86Cpu.GS })
            Cpu.Segments[seg].Load(HvmLayout.KernelDs, SegmentDescriptor.Data32(0));
        Cpu.Cr0Value = Cr0.PE | Cr0.ET;
        Cpu.Eflags = RFlags.Reserved1;
        Cpu.Rip = Entry;
        Cpu.UpdateMode();
    }

    /// <summary>
    /// Runs the CPU, dispatching host gates, until the fetch of <paramref name="stopGate"/>.
    /// Anything that ends the machine unwinds as <see cref="GuestStoppedException"/>.
    /// </summary>
    internal void RunUntil(ulong stopGate)
    {
        while (true)
        {
            if (vcpu.Run() is { } end)
                throw new GuestStoppedException(end);
            ulong at = Cpu.StopLinearAddress;
            if (at == stopGate)
                return;
            if (!Gates.TryGet(at, out string name, out var handler))
                throw new GuestStoppedException($"fetch from unknown host gate {at:x8}");
            try
            {
                handler();
            }
            catch (CpuFault fault)
            {
                PanicOnHostAccessFault(name, fault);
            }
        }
    }

    /// <summary>
    /// Guest code that reaches an Exec snippet's return gate outside any Exec (a jump of its own
    /// making into the runtime's gate page): the runtime has no C# caller to return to, and the
    /// guest is running code that is not its own. The domain is dead: a CRASH with the reason.
    /// </summary>
    private static GuestStoppedException ReturnOutsideExec() =>
        new("the guest entered an Exec return gate outside any Exec");

    /// <summary>
    /// A C# access to guest memory made for the gate (the runtime's reads of an exception frame,
    /// a ring, a stack argument, or the test's own) faulted as the guest instruction it stands
    /// for would have. DESIGN.md section 2: that is a panic of the guest, not a host exception
    /// and not a test result; XTF's C would have taken the fault in do_exception and panicked.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void PanicOnHostAccessFault(string gate, CpuFault fault)
    {
        string code = fault.ErrorCode is { } e ? $"[{e:x4}]" : "";
        string cr2 = fault.Vector == X86Vector.PF ? $" %cr2 {Pointer(fault.FaultAddress)}" : "";
        Panic($"{gate}: guest memory access faulted: {fault.Message}{code}{cr2}\n");
    }

    /// <summary>Returns from a host gate as the C function's <c>ret</c> would.</summary>
    private void GateReturn() => Cpu.Rip = Cpu.Pop(Bitness / 8);

    /// <summary>The xtf_main gate: XTF's start sequence, then the test, then xtf_exit.</summary>
    private void XtfMain()
    {
        test.Attach(this);
        test.Start(config);
    }
}
