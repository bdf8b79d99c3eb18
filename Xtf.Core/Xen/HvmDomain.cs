using Xtf.Core.Cpu;
using Xtf.Core.Machine;
using Xtf.Core.Xen.Emulation;
using Xtf.Core.Xen.Hypercalls;

namespace Xtf.Core.Xen;

/// <summary>
/// An HVM domain: the hypervisor's side of the guest's CPU exits. It answers CPUID with Xen's
/// leaves, installs the hypercall page on the MSR write, runs hypercalls on VMCALL, and sends
/// instructions behind the forced emulation prefix through its instruction emulator.
/// </summary>
public sealed class HvmDomain : ICpuIntercepts, IHypercallContext, IHypercallPrivilegeContext, IXenDomain
{
    private readonly VirtualMachine machine;
    private readonly HvmEmulator emulator;

    /// <summary>Creates the domain for <paramref name="machine"/> (libxl's HVM build: special pages and event channels) and becomes the CPU's intercept handler.</summary>
    public HvmDomain(VirtualMachine machine, HypervisorOptions? options = null)
    {
        this.machine = machine;
        Options = options ?? new HypervisorOptions();
        Guest = new GuestMemory(machine.Cpu);
        emulator = new HvmEmulator(machine.Cpu, Options);
        Domain = DomainState.CreateHvm(machine.Memory);
        HypercallPrivilege = new HypercallPrivilege(Options.UserHypercalls, () => machine.Cpu.Cpl == 0);
        machine.Cpu.Intercepts = this;
    }

    /// <inheritdoc/>
    public HypervisorOptions Options { get; }

    /// <summary>The vCPU's hypercall iopl (__HYPERVISOR_set_hypercall_iopl; HVM kernel = CPL 0).</summary>
    public HypercallPrivilege HypercallPrivilege { get; }

    /// <summary>Instructions the emulator has run for this domain.</summary>
    public long EmulatedInstructions => emulator.Emulated;

    /// <inheritdoc/>
    public GuestMemory Guest { get; }

    /// <inheritdoc/>
    public ConsoleLog HypervisorConsole { get; } = new();

    /// <inheritdoc/>
    /// <remarks>For HVM, the vCPU's current code size at the time of the hypercall (Xen's hvm_guest_x86_mode() == 8).</remarks>
    public bool Is64Bit => machine.Cpu.Bitness == 64;

    /// <inheritdoc/>
    public bool IsHvm => true;

    /// <inheritdoc/>
    public DomainState Domain { get; }

    /// <inheritdoc/>
    public ShutdownReason? ShutdownCode { get; set; }

    /// <summary>Set once the domain has shut down; the CPU is stopped at that point.</summary>
    public ShutdownReason? ShutdownState { get; private set; }

    /// <inheritdoc/>
    public void Shutdown(ShutdownReason reason)
    {
        ShutdownState ??= reason;
        machine.Cpu.RequestStop();
    }

    /// <summary>The guest's CPUID faulting state (MSRs 0xCE and 0x140).</summary>
    public CpuidFaulting CpuidFaulting { get; } = new();

    /// <inheritdoc/>
    /// <remarks>CPUID faulting first (#GP(0) at CPL &gt; 0 when enabled), then <see cref="XenCpuid.Leaf"/> with hvm: true.</remarks>
    public CpuidResult Cpuid(X86Cpu cpu, uint leaf, uint subleaf)
    {
        CpuidFaulting.CheckCpuid(cpu);
        return XenCpuid.Leaf(leaf, subleaf, XenVersion.Major, XenVersion.Minor, hvm: true);
    }

    /// <inheritdoc/>
    /// <remarks>Only the CPUID-faulting MSRs 0xCE and 0x140 exist here.</remarks>
    public bool TryReadMsr(X86Cpu cpu, uint msr, out ulong value)
    {
        value = CpuidFaulting.Owns(msr) ? CpuidFaulting.Read(msr) : 0;
        return CpuidFaulting.Owns(msr);
    }

    /// <summary>
    /// Writing the hypercall MSR (guest_wrmsr_xen): bits 63:12 are the GFN of the page, bits
    /// 11:0 a page index of which only 0 exists; anything else, or a GFN outside the guest, is #GP.
    /// </summary>
    public bool TryWriteMsr(X86Cpu cpu, uint msr, ulong value)
    {
        if (CpuidFaulting.Owns(msr))
            return CpuidFaulting.TryWrite(msr, value);
        if (msr != XenCpuid.HypercallPageMsr)
            return false;
        ulong gfn = value >> 12;
        if ((value & 0xFFF) != 0 || gfn >= machine.Memory.FrameCount)
            return false;
        machine.Memory.Write(gfn << 12, HypercallPage.BuildHvm());
        return true;
    }

    /// <summary>
    /// VMCALL: a hypercall from the guest (hvm_hypercall). From CPL above the vCPU's hypercall
    /// iopl (0 unless the kernel raised it with __HYPERVISOR_set_hypercall_iopl) it is refused
    /// with -EPERM, Xen's rule for CPL &gt; 0; otherwise the number in EAX selects the handler
    /// and the result goes to EAX/RAX.
    /// </summary>
    public bool Vmcall(X86Cpu cpu)
    {
        long result;
        if (!HypercallPrivilege.Admits(cpu.Cpl))
        {
            result = -XenErrno.EPERM;
        }
        else if (cpu.Bitness == 64)
        {
            var args = new HypercallArgs(cpu[X86Cpu.RDI], cpu[X86Cpu.RSI], cpu[X86Cpu.RDX], cpu[10], cpu[8]);
            result = HypercallTable.Dispatch(this, (int)cpu.Eax, args);
        }
        else
        {
            var args = new HypercallArgs(cpu.Ebx, cpu.Ecx, cpu.Edx, cpu.Esi, cpu.Edi);
            result = HypercallTable.Dispatch(this, (int)cpu.Eax, args);
        }

        if (cpu.Bitness == 64)
            cpu[X86Cpu.RAX] = (ulong)result;
        else
            cpu.Eax = (uint)result;
        return true;
    }

    /// <summary>
    /// The #UD intercept (hvm_ud_intercept): with <see cref="HypervisorOptions.Fep"/> on, an
    /// instruction behind the forced emulation prefix is emulated; any other #UD, and every #UD
    /// with the option off, is delivered to the guest. A #UD raised by the emulated instruction
    /// itself is not another prefix.
    /// </summary>
    public bool InvalidOpcode(X86Cpu cpu)
    {
        if (!Options.Fep || emulator.Busy || !emulator.AtForcedEmulationPrefix())
            return false;
        ForcedEmulation.Skip(cpu);
        emulator.EmulateOne();
        return true;
    }
}
