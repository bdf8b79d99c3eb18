namespace Xtf.Core.Xen.Pv;

/// <summary>One entry of a PV guest's virtual IDT (struct trap_info, public/arch-x86/xen.h).</summary>
/// <param name="Flags">Bits 0-1: the DPL a software interrupt needs; bit 2: mask events on delivery (an interrupt gate).</param>
/// <param name="Cs">The handler's code selector (RPL raised to the guest kernel's).</param>
/// <param name="Address">The handler; 0 means no handler.</param>
public readonly record struct TrapInfo(byte Flags, ushort Cs, ulong Address)
{
    public const byte MaskEvents = 4;

    public int Dpl => Flags & 3;

    public bool Present => Address != 0;
}

/// <summary>The CALLBACKTYPE_* entry points a PV guest registers (public/callback.h).</summary>
public enum CallbackType
{
    Event = 0,
    Failsafe = 1,
    Syscall = 2,
    SysenterDeprecated = 3,
    Nmi = 4,
    Sysenter = 5,
    Syscall32 = 7,
}

/// <summary>A registered callback: where, on which code segment (compat), and whether it masks events (CALLBACKF_mask_events).</summary>
public readonly record struct Callback(ushort Cs, ulong Address, bool MaskEvents)
{
    public bool Present => Address != 0;
}

/// <summary>
/// The hypervisor's state of a PV vCPU beyond the CPU's registers (struct pv_vcpu): the virtual
/// IDT, the kernel stack for entries from user mode, the callbacks, whether a pv64 guest is in
/// kernel mode, its two page-table roots, its virtual IOPL and the GDT frames it registered.
/// </summary>
public sealed class PvVcpu
{
    public TrapInfo[] TrapTable { get; } = new TrapInfo[256];

    /// <summary>stack_switch: kernel_ss and kernel_sp, the stack an entry from guest user mode switches to.</summary>
    public ushort KernelSs { get; set; }

    public ulong KernelSp { get; set; }

    public Dictionary<CallbackType, Callback> Callbacks { get; } = [];

    /// <summary>pv64: TF_kernel_mode, the guest's kernel/user distinction (both run in ring 3).</summary>
    public bool KernelMode { get; set; } = true;

    /// <summary>The guest kernel's root (an L4 mfn for pv64, the PAE L3 mfn for pv32pae).</summary>
    public ulong KernelRoot { get; set; }

    /// <summary>pv64's user root (MMUEXT_NEW_USER_BASEPTR), 0 when none is registered.</summary>
    public ulong UserRoot { get; set; }

    /// <summary>The guest's virtual IOPL, 0-3 (PHYSDEVOP_set_iopl; Xen keeps it apart from the real EFLAGS.IOPL, which is 0).</summary>
    public int Iopl { get; set; }

    /// <summary>VM_ASSIST bits the guest enabled (VMASST_TYPE_*).</summary>
    public ulong VmAssist { get; set; }

    /// <summary>The frames of the guest's GDT (set_gdt) and its number of entries.</summary>
    public ulong[] GdtFrames { get; set; } = [];

    public int GdtEntries { get; set; }

    /// <summary>pv64 FS/GS bases and the user GS base kept while the kernel runs (set_segment_base).</summary>
    public ulong GsBaseUser { get; set; }
}
