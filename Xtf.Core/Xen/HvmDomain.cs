using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Interrupts;
using Xtf.Core.Machine;
using Xtf.Core.Xen.Emulation;
using Xtf.Core.Xen.Hypercalls;
using Xtf.Core.Xen.Viridian;

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

    /// <summary>
    /// Creates the domain for <paramref name="machine"/> (libxl's HVM build: special pages and
    /// event channels) and becomes the CPU's intercept handler. <paramref name="hap"/>: guest
    /// paging by hardware-assisted paging (xl's <c>hap</c>, default on) rather than shadow
    /// pages; architecturally the same, but the viridian CPUID leaf 6 reports it.
    /// </summary>
    public HvmDomain(VirtualMachine machine, HypervisorOptions? options = null, bool hap = true)
    {
        Hap = hap;
        this.machine = machine;
        Options = options ?? new HypervisorOptions();
        Guest = new GuestMemory(machine.Cpu);
        Preemption = new HypercallPreemption(machine.Cpu);
        emulator = new HvmEmulator(machine.Cpu, Options, hap);
        Domain = DomainState.CreateHvm(machine.Memory);
        HypercallPrivilege = new HypercallPrivilege(Options.UserHypercalls, () => machine.Cpu.Cpl == 0);
        Viridian = new ViridianDomain(machine.Memory, () => (ViridianFeatures)Domain.HvmParams[HvmParam.Viridian],
            () => machine.Cpu.TimeStampCounter, () => ShutdownCode = ShutdownReason.Crash);
        machine.Cpu.Intercepts = this;
    }

    /// <summary>Whether the domain uses HAP (see the constructor).</summary>
    public bool Hap { get; }

    /// <summary>The Hyper-V enlightenments; on when HVM_PARAM_VIRIDIAN has the base group (<see cref="SetViridian"/>).</summary>
    public ViridianDomain Viridian { get; }

    /// <summary>
    /// The toolstack's xc_hvm_param_set(HVM_PARAM_VIRIDIAN) (hvm.c hvm_set_param): a mask with a
    /// bit outside HVMPV_feature_mask or without the base group is -EINVAL; the parameter "should
    /// only be changed once" (-EEXIST for a different non-zero value). 0 on success.
    /// </summary>
    public int SetViridian(ViridianFeatures mask)
    {
        if (!ViridianFeatureMask.IsValid(mask))
            return -XenErrno.EINVAL;
        ulong old = Domain.HvmParams[HvmParam.Viridian];
        if (old != 0 && old != (ulong)mask)
            return -XenErrno.EEXIST;
        Domain.HvmParams[HvmParam.Viridian] = (ulong)mask;
        return 0;
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
    public HypercallPreemption Preemption { get; }

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
    /// <remarks>CPUID faulting first (#GP(0) at CPL &gt; 0 when enabled); in a viridian domain the Hyper-V leaves at 0x40000000-0x400000FF (<see cref="ViridianCpuid"/>); then <see cref="XenCpuid.Leaf"/> with hvm: true.</remarks>
    public CpuidResult Cpuid(X86Cpu cpu, uint leaf, uint subleaf)
    {
        CpuidFaulting.CheckCpuid(cpu);
        if (Viridian.Enabled && leaf is >= ViridianCpuid.Base and <= ViridianCpuid.Base + 0xFF)
            return ViridianCpuid.Leaf(leaf, Viridian.Features, Viridian.GuestOsId, Hap);
        return XenCpuid.Leaf(leaf, subleaf, XenVersion.Major, XenVersion.Minor, hvm: true, viridian: Viridian.Enabled);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// VMX intercepts MSR_DEBUGCTL reads and writes (Xen: xen/arch/x86/hvm/vmx/vmx.c,
    /// vmx_msr_read_intercept / vmx_msr_write_intercept), and the CPUID-faulting MSRs, which Xen
    /// virtualises for every HVM guest whatever the hardware has (guest_rdmsr / guest_wrmsr).
    /// </remarks>
    public bool InterceptsMsr(uint msr) => msr == DebugCtl.Msr || CpuidFaulting.Owns(msr);

    /// <inheritdoc/>
    /// <remarks>
    /// The CPUID-faulting MSRs 0xCE and 0x140, MSR_DEBUGCTL, which reads the guest's
    /// GUEST_IA32_DEBUGCTL (vmx_msr_read_intercept: __vmread(GUEST_IA32_DEBUGCTL)), and the
    /// hypervisor range (msr.c guest_rdmsr): 0x40000000-0x400001FF are the viridian MSRs in a
    /// viridian domain; otherwise, and 0x40000200-0x400002FF, guest_rdmsr_xen, where the
    /// hypercall-page MSR reads as zero and anything else is #GP.
    /// </remarks>
    public bool TryReadMsr(X86Cpu cpu, uint msr, out ulong value)
    {
        if (msr == DebugCtl.Msr)
        {
            value = cpu.DebugCtlValue;
            return true;
        }

        if (msr is >= ViridianMsr.RangeFirst and <= ViridianMsr.RangeLast && Viridian.Enabled)
            return Viridian.TryRead(msr, out value);
        if (msr is >= XenCpuid.HypercallPageMsr and <= XenCpuid.HypercallPageMsr + 0x2FF)
        {
            value = 0;
            return msr == XenCpuid.HypercallMsr(Viridian.Enabled);
        }

        value = CpuidFaulting.Owns(msr) ? CpuidFaulting.Read(msr) : 0;
        return CpuidFaulting.Owns(msr);
    }

    /// <summary>
    /// MSR_DEBUGCTL writes (Xen: vmx.c, vmx_msr_write_intercept): LBR and BTF are accepted; the
    /// BTS bits only with a vPMU that has BTS (vpmu is off by default, so never here) and RTM only
    /// when the policy has RTM (ours does not); any other bit is #GP(0). LBR is kept because the
    /// CPU's signature (family 6 model 0x3A, Ivy Bridge) has model-specific LBRs in Xen's
    /// get_model_specific_lbr (nh_lbr); without them Xen would drop it (the Arch LBR rule). The
    /// value goes straight into the guest's DEBUGCTL, as __vmwrite(GUEST_IA32_DEBUGCTL).
    /// </summary>
    private static bool TryWriteDebugCtl(X86Cpu cpu, ulong value)
    {
        ulong reserved = ~(DebugCtl.Lbr | DebugCtl.Btf);
        if ((value & reserved) != 0)
            return false;
        if (!HasModelSpecificLbr(CpuidLeaves.Native(1, 0).Eax))
            value &= ~DebugCtl.Lbr;
        cpu.DebugCtlValue = value;
        return true;
    }

    /// <summary>
    /// Xen's get_model_specific_lbr (vmx.c) by CPUID.1:EAX signature: the family 6 models with
    /// Core 2, Nehalem, Skylake, Atom, Silvermont and Goldmont LBR layouts, and family 15 models
    /// 3, 4 and 6 (Pentium 4).
    /// </summary>
    internal static bool HasModelSpecificLbr(uint signature)
    {
        uint family = (signature >> 8) & 0xF;
        uint model = ((signature >> 4) & 0xF) | (family is 6 or 15 ? ((signature >> 12) & 0xF0) : 0);
        return family switch
        {
            6 => model is 0x0F or 0x17 or 0x1D
                or 0x1A or 0x1E or 0x1F or 0x2E or 0x25 or 0x2C or 0x2F or 0x2A or 0x2D or 0x3A or 0x3E
                or 0x3C or 0x3F or 0x45 or 0x46 or 0x3D or 0x47 or 0x4F or 0x56
                or 0x4E or 0x5E or 0x55 or 0x66 or 0x7A or 0x6A or 0x6C or 0x7D or 0x7E or 0x8C or 0x8D
                or 0x86 or 0x8E or 0x9E or 0xA5 or 0xA6
                or 0x1C or 0x26 or 0x27 or 0x35 or 0x36
                or 0x37 or 0x4A or 0x4D or 0x5A or 0x5D or 0x4C or 0x5C or 0x5F,
            15 => model is 3 or 4 or 6,
            _ => false,
        };
    }

    /// <summary>
    /// MSR_DEBUGCTL (<see cref="TryWriteDebugCtl"/>), the CPUID-faulting MSRs, the viridian MSRs
    /// (in a viridian domain, 0x40000000-0x400001FF, msr.c guest_wrmsr), and the hypercall MSR.
    /// Writing the hypercall MSR (guest_wrmsr_xen, at 0x40000000 or, in a viridian domain,
    /// 0x40000200): bits 63:12 are the GFN of the page, bits 11:0 a page index of which only 0
    /// exists; anything else, or a GFN outside the guest, is #GP, as is every other MSR of
    /// Xen's range.
    /// </summary>
    public bool TryWriteMsr(X86Cpu cpu, uint msr, ulong value)
    {
        if (msr == DebugCtl.Msr)
            return TryWriteDebugCtl(cpu, value);
        if (CpuidFaulting.Owns(msr))
            return CpuidFaulting.TryWrite(msr, value);
        if (msr is >= ViridianMsr.RangeFirst and <= ViridianMsr.RangeLast && Viridian.Enabled)
            return Viridian.TryWrite(msr, value);
        if (msr != XenCpuid.HypercallMsr(Viridian.Enabled))
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
    /// with -EPERM, Xen's rule for CPL &gt; 0; then, in a viridian domain, EAX bit 31 makes it a
    /// Hyper-V hypercall (<see cref="ViridianHypercall"/>); otherwise the number in EAX selects
    /// the handler and the result goes to EAX/RAX.
    /// </summary>
    public bool Vmcall(X86Cpu cpu)
    {
        long result;
        if (!HypercallPrivilege.Admits(cpu.Cpl))
        {
            result = -XenErrno.EPERM;
        }
        else if ((cpu.Eax & 0x80000000) != 0 && Viridian.Enabled)
        {
            ViridianHypercall.Call(cpu, machine.Memory);
            return true;
        }
        else
        {
            bool native = cpu.Bitness == 64;
            var args = native
                ? new HypercallArgs(cpu[X86Cpu.RDI], cpu[X86Cpu.RSI], cpu[X86Cpu.RDX], cpu[10], cpu[8])
                : new HypercallArgs(cpu.Ebx, cpu.Ecx, cpu.Edx, cpu.Esi, cpu.Edi);
            Preemption.Begin();
            result = HypercallTable.Dispatch(this, (int)cpu.Eax, args);
            // HVM_HCALL_preempted: the exit handler skips update_guest_eip (vmx.c, svm.c), so RIP
            // stays at the VMCALL, which runs again, and the single-step #DB that update_guest_eip
            // would inject for TF is not raised: the instruction has not completed.
            if (Preemption.ApplyToRegisters(native))
                throw new X86Cpu.InterceptCompleted();
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

    /// <summary>
    /// The exception intercepts: since XSA-156 (bd2239d9fa) Xen intercepts #DB and #AC for every
    /// HVM guest, and since 0747bc8b4d its VMX exit handler re-injects them with
    /// vmx_propagate_intr, copying the exit's event type and instruction length, so the guest
    /// sees each as the processor would have delivered it: modelled as delivery through the IDT
    /// unchanged (false). Under <see cref="Quirk.Xsa156"/> the handler is bd2239d9fa's,
    /// <c>hvm_inject_hw_exception(vector, HVM_DELIVER_NO_ERROR_CODE)</c>: the #DB of an ICEBP
    /// (a privileged software exception, whose VM exit leaves RIP at the instruction) comes back
    /// as a hardware exception, so its frame saves the ICEBP's address, fault-like, and IRET runs
    /// it again. Single-step and breakpoint traps exit with RIP already past the instruction, so
    /// they are unchanged; an event the VM entry injected (the emulator's ICEBP) never exits.
    /// </summary>
    public bool DeliverEvent(X86Cpu cpu, int vector, uint? errorCode, EventKind kind, ulong returnRip)
    {
        if (kind != EventKind.Icebp || !Options.Has(Quirk.Xsa156) || cpu.DeliveringInjectedEvent)
            return false;
        cpu.DeliverEvent(vector, null, EventKind.Exception, cpu.Rip);
        return true;
    }
}
