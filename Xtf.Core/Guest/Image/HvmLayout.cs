namespace Xtf.Core.Guest.Image;

/// <summary>
/// Where the HVM image lives. As in XTF, the image is linked at 1 MiB; page 0 is never used.
/// Linear and physical addresses are equal: without paging, and through the identity maps of the
/// paged environments.
/// </summary>
public static class HvmLayout
{
    /// <summary>Physical and linear base of the image, 1 MiB (0x100000).</summary>
    public const ulong ImageBase = 0x100000;

    /// <summary>Boot code: the entry point the domain builder starts the vCPU at.</summary>
    public const ulong Text = ImageBase;

    /// <summary>Exception entry stubs and the common exception path.</summary>
    public const ulong EntryStubs = ImageBase + 0x1000;

    /// <summary>The hypercall page, filled with <c>ret</c> until Xen writes it on the MSR write.</summary>
    public const ulong HypercallPage = ImageBase + 0x2000;

    /// <summary>Host gates: one supervisor page, one user page (DESIGN.md section 2).</summary>
    public const ulong SupervisorGates = ImageBase + 0x3000;

    /// <summary>The user host-gate page (U/S = 1), for gates reached from CPL 3.</summary>
    public const ulong UserGates = ImageBase + 0x4000;

    /// <summary>The GDT: <see cref="GdtEntries"/> 8-byte descriptors, laid out by XTF's GDTE_* slots.</summary>
    public const ulong Gdt = ImageBase + 0x5000;
    /// <summary>The main TSS (32-bit: ESP0/SS0; hvm64: RSP0 and IST1 for #DF), 0x68 bytes.</summary>
    public const ulong Tss = ImageBase + 0x5200;
    /// <summary>The #DF task's 32-bit TSS (XTF's tss_DF), 32-bit environments only.</summary>
    public const ulong DoubleFaultTss = ImageBase + 0x5300;

    /// <summary>The IDT: 256 gates of 8 bytes (32-bit environments) or 16 bytes (hvm64).</summary>
    public const ulong Idt = ImageBase + 0x5800;

    /// <summary>Kernel code assembled at run time (custom IDT handlers and the like).</summary>
    public const ulong KernelCode = ImageBase + 0x7000;
    /// <summary>Bytes reserved at <see cref="KernelCode"/> (12 KiB).</summary>
    public const ulong KernelCodeSize = 0x3000;

    /// <summary>Exec snippets, allocated as a stack as Exec calls nest.</summary>
    public const ulong Snippets = ImageBase + 0xA000;
    /// <summary>Bytes reserved at <see cref="Snippets"/> (24 KiB) for nested Exec snippets.</summary>
    public const ulong SnippetsSize = 0x6000;

    /// <summary>Kernel data: the printk buffer, Exec save slots, scratch for hypercall arguments.</summary>
    public const ulong Data = ImageBase + 0x10000;
    /// <summary>The kernel printk buffer that console writes (rep outsb, console_io) read from.</summary>
    public const ulong PrintkBuffer = Data;
    /// <summary>Size of <see cref="PrintkBuffer"/> in bytes; longer messages are written in chunks of this size.</summary>
    public const int PrintkBufferSize = 2048;
    /// <summary>Stack-pointer save slots of kernel-mode Exec snippets, 8 bytes per nesting depth.</summary>
    public const ulong ExecSaveSlots = Data + 0x800;

    /// <summary>ExecUser's kernel stack pointer, which the X86_VEC_RET2KERN handler returns on.</summary>
    public const ulong ExecUserReturnSlot = Data + 0xF00;
    /// <summary>Kernel scratch page: hypercall argument buffers written by the test before the hypercall.</summary>
    public const ulong Scratch = Data + 0x1000;
    /// <summary>Size of <see cref="Scratch"/> in bytes (4 KiB): the largest hypercall argument buffer.</summary>
    public const int ScratchSize = 0x1000;

    /// <summary>Where user code is staged before a STAC-bracketed copy to user text when CR4.SMAP is on.</summary>
    public const ulong CodeStaging = Data + 0x2000;
    /// <summary>Size of <see cref="CodeStaging"/> in bytes; larger user code is copied in chunks.</summary>
    public const int CodeStagingSize = 0x1000;

    /// <summary>The kernel stack (grows down from its top).</summary>
    public const ulong KernelStackTop = ImageBase + 0x18000;

    /// <summary>
    /// The ring-0 stack the CPU switches to on entry from ring 3 (TSS ESP0/RSP0; XTF's tss.esp0 is
    /// a page of its own above the boot stack), so entries from user code never overwrite the
    /// live frames of the kernel stack.
    /// </summary>
    public const ulong Ring0StackTop = ImageBase + 0x19000;

    /// <summary>User text (XTF's .text.user): ExecUser snippets, allocated as a stack as Exec snippets are.</summary>
    public const ulong UserText = ImageBase + 0x19000;
    /// <summary>Bytes of user text (16 KiB).</summary>
    public const ulong UserTextSize = 0x4000;

    /// <summary>User data (XTF's .data.user): free for tests' user-mode variables.</summary>
    public const ulong UserData = ImageBase + 0x1D000;
    /// <summary>Bytes of user data available to tests (0x1F00; the last 256 bytes of the page hold <see cref="UserExecSaveSlots"/>).</summary>
    public const ulong UserDataSize = 0x1F00;

    /// <summary>The stack-pointer save slots of Exec snippets run at CPL 3 (the last 256 bytes of user data).</summary>
    public const ulong UserExecSaveSlots = UserData + UserDataSize;

    /// <summary>XTF's user_stack: one page, on which ExecUser enters CPL 3.</summary>
    public const ulong UserStack = ImageBase + 0x1F000;
    /// <summary>Initial user stack pointer: the top of <see cref="UserStack"/>.</summary>
    public const ulong UserStackTop = UserStack + 0x1000;

    /// <summary>Page tables of the paged environments (see HvmPageTables), up to 8 pages.</summary>
    public const ulong PageTables = ImageBase + 0x20000;

    /// <summary>First byte after the image (the end of the page-table area); PV domains place start_info and the rest above it.</summary>
    public const ulong ImageEnd = PageTables + 0x8000;

    // GDT slots, numbered as XTF numbers them (arch/x86/include/arch/segment.h).
    /// <summary>GDT slots 1-4: XTF's GDTE_CS64_DPL0 (64-bit ring-0 code), GDTE_CS32_DPL0 (32-bit ring-0 code), GDTE_DS32_DPL0 (ring-0 data), GDTE_CS64_DPL3 (64-bit ring-3 code).</summary>
    public const int GdteCs64Dpl0 = 1, GdteCs32Dpl0 = 2, GdteDs32Dpl0 = 3, GdteCs64Dpl3 = 4;
    /// <summary>GDT slots 5-8: XTF's GDTE_CS32_DPL3 (32-bit ring-3 code), GDTE_DS32_DPL3 (ring-3 data), GDTE_TSS (in hvm64 its 16-byte descriptor also fills slot 8), GDTE_TSS_DF (the #DF task's TSS, 32-bit environments only).</summary>
    public const int GdteCs32Dpl3 = 5, GdteDs32Dpl3 = 6, GdteTss = 7, GdteTssDf = 8;

    /// <summary>First of the spare GDT slots (9-14) that tests may use.</summary>
    public const int GdteAvail0 = 9;
    /// <summary>Descriptors in our GDT (limit 16 * 8 - 1); XTF's NR_GDT_ENTRIES is 15, the extra slot 15 is null.</summary>
    public const int GdtEntries = 16;

    /// <summary>32-bit ring-0 code selector 0x10 (XTF's __KERN_CS outside hvm64).</summary>
    public const ushort KernelCs = GdteCs32Dpl0 << 3;
    /// <summary>32-bit ring-0 data selector 0x18 (XTF's __KERN_DS outside hvm64; XTF's hvm64 uses the null selector, we load this one).</summary>
    public const ushort KernelDs = GdteDs32Dpl0 << 3;
    /// <summary>32-bit ring-3 code selector 0x2B (XTF's __USER_CS outside hvm64).</summary>
    public const ushort UserCs = (GdteCs32Dpl3 << 3) | 3;
    /// <summary>Ring-3 data selector 0x33 (XTF's __USER_DS in every HVM environment).</summary>
    public const ushort UserDs = (GdteDs32Dpl3 << 3) | 3;
    /// <summary>TSS selector 0x38 (GDT slot 7), loaded by LTR at boot.</summary>
    public const ushort TssSelector = GdteTss << 3;

    /// <summary>hvm64's __KERN_CS and __USER_CS: the 64-bit code segments (data segments are shared).</summary>
    public const ushort KernelCs64 = GdteCs64Dpl0 << 3;
    /// <summary>64-bit ring-3 code selector 0x23 (GDT slot 4, RPL 3).</summary>
    public const ushort UserCs64 = (GdteCs64Dpl3 << 3) | 3;

    /// <summary>The kernel code segment the environment runs on (XTF's __KERN_CS).</summary>
    public static ushort KernelCsFor(Environments environment) => environment == Environments.Hvm64 ? KernelCs64 : KernelCs;

    /// <summary>XTF's X86_VEC_RET2KERN (DPL 3, used by exec_user) and X86_VEC_AVAIL (free for tests).</summary>
    public const int VectorReturnToKernel = 0x20;
    /// <summary>X86_VEC_AVAIL, 0x21.</summary>
    public const int VectorAvailable = 0x21;
}
