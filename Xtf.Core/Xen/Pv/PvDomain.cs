using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Memory;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Machine;
using Xtf.Core.Xen.Hypercalls;
using Xtf.Core.Xen.Pv.Builder;
using Xtf.Core.Xen.Pv.Memory;

namespace Xtf.Core.Xen.Pv;

/// <summary>
/// A PV domain (pv64 or pv32pae): the hypervisor owns ring 0 and the IDT. Every event the vCPU
/// raises and every SYSCALL/SYSENTER reaches it through the CPU's intercepts, as they would reach
/// Xen's IDT and syscall entry points; it emulates privileged instructions, runs hypercalls, or
/// bounces the event to the guest kernel, and returns to the guest with a real IRETQ at CPL 0.
/// </summary>
public sealed partial class PvDomain : ICpuIntercepts, IHypercallContext, IHypercallPrivilegeContext, IPvMemoryContext, IXenDomain
{
    private static readonly Instruction Iretq = DecodeIretq();

    /// <summary>A PV domain of <paramref name="guestFrames"/> 4 KiB frames (machine frames 0 .. guestFrames - 1), pv64 when <paramref name="is64Bit"/> else pv32pae; Xen's own frames come from above them. Becomes the CPU's intercept handler. Throws <see cref="ArgumentException"/> if the machine lacks room for both. The domain builder (<see cref="Builder.PvDomainBuilder"/>) completes it.</summary>
    public PvDomain(VirtualMachine machine, ulong guestFrames, bool is64Bit, HypervisorOptions? options = null)
    {
        if (guestFrames + XenFrames.Reserved > machine.Memory.FrameCount)
            throw new ArgumentException("machine memory must hold the guest's frames and the hypervisor's", nameof(guestFrames));
        Machine = machine;
        Options = options ?? new HypervisorOptions();
        GuestFrames = guestFrames;
        Is64BitDomain = is64Bit;
        Guest = new GuestMemory(machine.Cpu);
        Preemption = new HypercallPreemption(machine.Cpu);
        Frames = new XenFrames(machine.Memory, guestFrames);
        HypercallPrivilege = new HypercallPrivilege(Options.UserHypercalls, () => InGuestKernelMode);
        HypercallPrivilege.Changed += WriteHypercallPage;
        Mmu = new PvMemoryManager(this);
        machine.Cpu.Intercepts = this;

        // ctxt_switch_levelling (xen/arch/x86/cpu/common.c): on hardware with CPUID faulting, Xen
        // turns it on whenever a PV domain's vCPU runs, so every guest CPUID reaches Xen.
        machine.Cpu.WriteMsr(X86Cpu.MsrMiscFeaturesEnables, X86Cpu.MiscFeaturesCpuidFaulting);
    }

    /// <summary>The machine the domain runs on.</summary>
    public VirtualMachine Machine { get; }

    /// <inheritdoc/>
    public X86Cpu Cpu => Machine.Cpu;

    /// <inheritdoc/>
    public PhysicalMemory Memory => Machine.Memory;

    /// <inheritdoc/>
    public HypervisorOptions Options { get; }

    /// <summary>True for pv64, false for pv32pae (a compat guest of a 64-bit hypervisor).</summary>
    public bool Is64BitDomain { get; }

    /// <inheritdoc/>
    public ulong GuestFrames { get; }

    /// <summary>The hypervisor's frame allocator (frames above the guest's).</summary>
    public XenFrames Frames { get; }

    /// <summary>Xen's per-vCPU PV state: trap table, kernel stack, callbacks, roots, virtual IOPL.</summary>
    public PvVcpu Vcpu { get; } = new();

    /// <inheritdoc/>
    public GuestMemory Guest { get; }

    /// <inheritdoc/>
    public HypercallPreemption Preemption { get; }

    /// <inheritdoc/>
    public ConsoleLog HypervisorConsole { get; } = new();

    /// <summary>The hypervisor's own messages about the domain (crash reasons, unhandled traps), as <c>xl dmesg</c> shows them.</summary>
    public ConsoleLog XenLog { get; } = new();

    /// <summary>The last message in <see cref="XenLog"/>.</summary>
    public string? LastXenMessage { get; private set; }

    /// <inheritdoc/>
    public HypercallPrivilege HypercallPrivilege { get; }

    /// <summary>The domain's event channels, console backend and start_info facts; set by the builder.</summary>
    public DomainState Domain { get; internal set; } = null!;

    /// <summary>The machine frame of shared_info (a hypervisor frame the guest may map).</summary>
    public ulong SharedInfoMfn { get; internal set; }

    /// <summary>pv32pae: the hypervisor's L4, whose slot 0 holds the guest's L3 (CR3 points here).</summary>
    public ulong CompatL4 { get; internal set; }

    /// <summary>The machine frame of the hypercall page (XEN_ELFNOTE_HYPERCALL_PAGE), 0 if the image has none.</summary>
    public ulong HypercallPageMfn { get; internal set; }

    /// <summary>Page types and the MMU hypercalls (mmu_update, update_va_mapping, mmuext_op).</summary>
    public PvMemoryManager Mmu { get; }

    /// <summary>The hypervisor's part of the address space; set by the builder.</summary>
    internal XenArea Xen { get; set; } = null!;

    /// <summary>Hypervisor addresses of Xen's stack top and the frame holding it.</summary>
    internal ulong XenStackTop { get; set; }

    internal ulong XenStackMfn { get; set; }

    /// <inheritdoc/>
    public bool Is64Bit => Is64BitDomain;

    /// <inheritdoc/>
    public bool IsHvm => false;

    /// <inheritdoc/>
    public ShutdownReason? ShutdownCode { get; set; }

    /// <inheritdoc/>
    public ShutdownReason? ShutdownState { get; private set; }

    /// <summary>Hypercalls the domain has made (each counted once on entry).</summary>
    public long Hypercalls { get; private set; }

    ulong IPvMemoryContext.KernelRoot => Vcpu.KernelRoot;

    ulong IPvMemoryContext.UserRoot => Vcpu.UserRoot;

    /// <inheritdoc/>
    public void Shutdown(ShutdownReason reason)
    {
        ShutdownState ??= reason;
        Cpu.RequestStop();
    }

    /// <summary>domain_crash(): the hypervisor logs why and the domain ends (the instance is a CRASH).</summary>
    public void Crash(string why)
    {
        if (ShutdownState is null)
            Log($"domain_crash: {why}");
        Shutdown(ShutdownReason.Crash);
    }

    /// <summary>A line of the hypervisor's log about this vCPU (what <c>xl dmesg</c> shows).</summary>
    public void Log(string message)
    {
        LastXenMessage = message;
        XenLog.Append(System.Text.Encoding.Latin1.GetBytes($"(XEN) d{Domain?.Id ?? 0}v0 {message}\n"));
    }

    /// <inheritdoc/>
    public void SetRoot(ulong mfn, bool user)
    {
        if (user)
            Vcpu.UserRoot = mfn;
        else
            Vcpu.KernelRoot = mfn;
        if (user != Vcpu.KernelMode || !Is64BitDomain)
            LoadCr3();
    }

    /// <inheritdoc/>
    public void InitXenL4Slots(ulong l4Mfn) => Xen.InstallL4Slots(l4Mfn);

    /// <inheritdoc/>
    public void InitXenPaeL2Slots(ulong l2Mfn) => Xen.InstallCompatL2Slots(l2Mfn);

    /// <inheritdoc/>
    public void SetM2pEntry(ulong mfn, ulong pfn) => Xen.SetM2pEntry(mfn, pfn);

    /// <summary>
    /// MMUEXT_SET_LDT: the LDT the guest names (its linear base and entry count; 0 entries is
    /// none). Xen maps those pages into its per-domain area; here LDTR caches the guest's own
    /// linear base, which shows the same descriptors.
    /// </summary>
    public void SetLdt(ulong linearBase, uint entries)
    {
        if (entries == 0)
        {
            Cpu.Ldtr.LoadNull(0);
            return;
        }

        Cpu.Ldtr.Load(PvAbi.FirstReservedGdtByte + 0x50, SegmentDescriptor.System(SystemDescriptorType.Ldt, linearBase & 0xFFFFFFFF, (entries * 8) - 1));
        Cpu.Ldtr.Base = linearBase;
    }

    /// <summary>Loads CR3 for the vCPU's mode: pv64's kernel or user root; pv32pae's hypervisor L4 with the guest L3 in slot 0.</summary>
    internal void LoadCr3()
    {
        if (Is64BitDomain)
        {
            Cpu.WriteControlRegister(3, (Vcpu.KernelMode ? Vcpu.KernelRoot : Vcpu.UserRoot) << 12);
            return;
        }

        PageTableWriter.Set(Memory, CompatL4, 0, (Vcpu.KernelRoot << 12) | PageTableWriter.Hypervisor | PageWalker.US);
        Cpu.WriteControlRegister(3, CompatL4 << 12);
    }

    /// <summary>
    /// The processor's own CPUID leaves, for a CPUID the hardware executes. A PV guest never reaches
    /// this: Xen runs every PV domain with the hardware's CPUID faulting on (ctxt_switch_levelling
    /// in xen/arch/x86/cpu/common.c), and a PV guest never runs at CPL 0, so each of its CPUIDs is a
    /// #GP(0) that the privileged-op emulator answers from the domain's policy.
    /// </summary>
    public CpuidResult Cpuid(X86Cpu cpu, uint leaf, uint subleaf) => CpuidLeaves.Native(leaf, subleaf);

    /// <summary>The guest's CPUID faulting (MSRs 0xCE and 0x140 as Xen virtualises them).</summary>
    public CpuidFaulting CpuidFaulting { get; } = new();

    /// <summary>The CPUID policy Xen presents to a PV guest (pv_cpuid).</summary>
    public static CpuidResult EmulatedCpuid(uint leaf, uint subleaf) =>
        XenCpuid.Leaf(leaf, subleaf, XenVersion.Major, XenVersion.Minor, hvm: false);

    /// <inheritdoc/>
    /// <remarks>No MSRs beyond the CPU's own; a PV guest's RDMSR faults (#GP at CPL &gt; 0) and reaches Xen's emulation through <see cref="DeliverEvent"/>.</remarks>
    public bool TryReadMsr(X86Cpu cpu, uint msr, out ulong value)
    {
        value = 0;
        return false;
    }

    /// <inheritdoc/>
    /// <remarks>As <see cref="TryReadMsr"/>: WRMSR is emulated on its #GP.</remarks>
    public bool TryWriteMsr(X86Cpu cpu, uint msr, ulong value) => false;

    /// <summary>VMCALL from a PV guest: not a hypercall instruction here; #UD.</summary>
    public bool Vmcall(X86Cpu cpu) => false;

    /// <summary>#UD reaches the hypervisor through <see cref="DeliverEvent"/> like every other exception.</summary>
    public bool InvalidOpcode(X86Cpu cpu) => false;

    private static Instruction DecodeIretq()
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(new byte[] { 0x48, 0xCF }));
        decoder.Decode(out var insn);
        return insn;
    }
}
