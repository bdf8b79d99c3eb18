namespace Xtf.Core.Xen.Pv;

/// <summary>One entry of a PV guest's virtual IDT (struct trap_info, public/arch-x86/xen.h).</summary>
/// <param name="Flags">Bits 0-1: the DPL a software interrupt needs; bit 2: mask events on delivery (an interrupt gate).</param>
/// <param name="Cs">The handler's code selector (RPL raised to the guest kernel's).</param>
/// <param name="Address">The handler; 0 means no handler.</param>
public readonly record struct TrapInfo(byte Flags, ushort Cs, ulong Address)
{
    /// <summary>Flags bit 2 (TI_GET_IF): delivery sets evtchn_upcall_mask, as an interrupt gate clears IF.</summary>
    public const byte MaskEvents = 4;

    /// <summary>TI_GET_DPL: the lowest privilege (highest ring number) that may reach the entry with INT n; 0 means only exceptions reach it.</summary>
    public int Dpl => Flags & 3;

    /// <summary>A handler is registered (address non-zero; set_trap_table's terminator has address 0).</summary>
    public bool Present => Address != 0;
}

/// <summary>The CALLBACKTYPE_* entry points a PV guest registers (public/callback.h).</summary>
public enum CallbackType
{
    /// <summary>CALLBACKTYPE_event: the event-channel upcall entry.</summary>
    Event = 0,
    /// <summary>CALLBACKTYPE_failsafe: entry when Xen cannot load the guest's segment state on return (bad selectors in a frame).</summary>
    Failsafe = 1,
    /// <summary>CALLBACKTYPE_syscall: 64-bit SYSCALL entry (pv64).</summary>
    Syscall = 2,
    /// <summary>CALLBACKTYPE_sysenter_deprecated: the old number of the SYSENTER callback.</summary>
    SysenterDeprecated = 3,
    /// <summary>CALLBACKTYPE_nmi: NMI entry.</summary>
    Nmi = 4,
    /// <summary>CALLBACKTYPE_sysenter: SYSENTER entry.</summary>
    Sysenter = 5,
    /// <summary>CALLBACKTYPE_syscall32: SYSCALL from 32-bit (compatibility mode) user code of a pv64 guest.</summary>
    Syscall32 = 7,
}

/// <summary>A registered callback: where, on which code segment (compat), and whether it masks events (CALLBACKF_mask_events).</summary>
public readonly record struct Callback(ushort Cs, ulong Address, bool MaskEvents)
{
    /// <summary>A callback is registered (address non-zero).</summary>
    public bool Present => Address != 0;
}

/// <summary>
/// The hypervisor's state of a PV vCPU beyond the CPU's registers (struct pv_vcpu): the virtual
/// IDT, the kernel stack for entries from user mode, the callbacks, whether a pv64 guest is in
/// kernel mode, its two page-table roots, its virtual IOPL and the GDT frames it registered.
/// </summary>
public sealed class PvVcpu
{
    /// <summary>The virtual IDT, indexed by vector (set_trap_table); entries with address 0 have no handler.</summary>
    public TrapInfo[] TrapTable { get; } = new TrapInfo[256];

    /// <summary>stack_switch: kernel_ss and kernel_sp, the stack an entry from guest user mode switches to.</summary>
    public ushort KernelSs { get; set; }

    /// <summary>stack_switch's kernel_sp: the stack pointer an entry from guest user mode switches to.</summary>
    public ulong KernelSp { get; set; }

    /// <summary>The registered callbacks (callback_op / set_callbacks), by type.</summary>
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

    /// <summary>Entries of the guest's GDT (set_gdt's entries argument; at most <see cref="PvAbi.FirstReservedGdtEntry"/>).</summary>
    public int GdtEntries { get; set; }

    /// <summary>pv64 FS/GS bases and the user GS base kept while the kernel runs (set_segment_base).</summary>
    public ulong GsBaseUser { get; set; }
}
