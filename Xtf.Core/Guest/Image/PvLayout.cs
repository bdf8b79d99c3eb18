namespace Xtf.Core.Guest.Image;

/// <summary>
/// The PV environments' image: the same layout as <see cref="HvmLayout"/> (XTF links every
/// environment at 1 MiB; a PV guest's virtual addresses are its pseudo-physical ones), without
/// the GDT, IDT, TSS and page tables the hypervisor owns, and XTF's PV selectors
/// (arch/x86/include/arch/segment.h): pv64's kernel selectors carry RPL 0 because Xen's frames
/// report kernel context with RPL 0 (Xen raises it back to 3 on return).
/// </summary>
public static class PvLayout
{
    /// <summary>Where the boot code stashes the start_info pointer (XTF's start_info variable).</summary>
    public const ulong StartInfoSlot = HvmLayout.Data + 0xF08;

    /// <summary>The hypercall page's iret slot (HYPERCALL_iret), which exception returns jump to.</summary>
    public const ulong HypercallIret = HvmLayout.HypercallPage + (23 * 32);

    /// <summary>pv64 selectors (XTF's segment.h): __KERN_CS = FLAT_RING3_CS64 &amp; ~3 (0xe030), __KERN_DS = FLAT_RING3_SS64 &amp; ~3 (0xe028), __USER_CS = FLAT_RING3_CS64 (0xe033), __USER_DS = FLAT_RING3_SS64 (0xe02b); xen/include/public/arch-x86/xen-x86_64.h.</summary>
    public const ushort KernelCs64 = 0xe030, KernelDs64 = 0xe028, UserCs64 = 0xe033, UserDs64 = 0xe02b;
    /// <summary>pv32pae selectors (XTF's segment.h): FLAT_RING1_CS (0xe019), FLAT_RING1_DS (0xe021), FLAT_RING3_CS (0xe02b), FLAT_RING3_DS (0xe033); xen/include/public/arch-x86/xen-x86_32.h.</summary>
    public const ushort KernelCs32 = 0xe019, KernelDs32 = 0xe021, UserCs32 = 0xe02b, UserDs32 = 0xe033;

    /// <summary>XTF's __KERN_CS for <paramref name="env"/> (pv64 if it is <see cref="Environments.Pv64"/>, else pv32pae).</summary>
    public static ushort KernelCs(Environments env) => env == Environments.Pv64 ? KernelCs64 : KernelCs32;

    /// <summary>XTF's __KERN_DS for <paramref name="env"/>.</summary>
    public static ushort KernelDs(Environments env) => env == Environments.Pv64 ? KernelDs64 : KernelDs32;

    /// <summary>XTF's __USER_CS for <paramref name="env"/>.</summary>
    public static ushort UserCs(Environments env) => env == Environments.Pv64 ? UserCs64 : UserCs32;

    /// <summary>XTF's __USER_DS for <paramref name="env"/>.</summary>
    public static ushort UserDs(Environments env) => env == Environments.Pv64 ? UserDs64 : UserDs32;
}
