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

    public const ushort KernelCs64 = 0xe030, KernelDs64 = 0xe028, UserCs64 = 0xe033, UserDs64 = 0xe02b;
    public const ushort KernelCs32 = 0xe019, KernelDs32 = 0xe021, UserCs32 = 0xe02b, UserDs32 = 0xe033;

    public static ushort KernelCs(Environments env) => env == Environments.Pv64 ? KernelCs64 : KernelCs32;

    public static ushort KernelDs(Environments env) => env == Environments.Pv64 ? KernelDs64 : KernelDs32;

    public static ushort UserCs(Environments env) => env == Environments.Pv64 ? UserCs64 : UserCs32;

    public static ushort UserDs(Environments env) => env == Environments.Pv64 ? UserDs64 : UserDs32;
}
