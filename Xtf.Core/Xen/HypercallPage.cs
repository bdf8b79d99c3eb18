namespace Xtf.Core.Xen;

/// <summary>
/// The hypercall page Xen writes into an HVM guest (init_hypercall_page, vmx/svm
/// _init_hypercall_page): filled with 0xCC, then one 32-byte stub per hypercall,
/// <c>mov $nr, %eax; vmcall; ret</c>, except __HYPERVISOR_iret whose slot is <c>ud2</c>.
/// </summary>
public static class HypercallPage
{
    /// <summary>Page size in bytes (one 4 KiB page).</summary>
    public const int Size = 4096;
    /// <summary>Bytes per hypercall stub: stub for hypercall n is at offset n * 32.</summary>
    public const int SlotSize = 32;

    /// <summary>The page contents: Intel's <c>vmcall</c> (0F 01 C1) stubs, or AMD's <c>vmmcall</c> (0F 01 D9) when <paramref name="amd"/>.</summary>
    public static byte[] BuildHvm(bool amd = false)
    {
        var page = new byte[Size];
        Array.Fill(page, (byte)0xCC);
        for (int nr = 0; nr < HypercallNumber.PageSlots; nr++)
        {
            int o = nr * SlotSize;
            if (nr == HypercallNumber.Iret)
            {
                page[o] = 0x0F;
                page[o + 1] = 0x0B;
                continue;
            }

            page[o] = 0xB8;
            BitConverter.TryWriteBytes(page.AsSpan(o + 1, 4), nr);
            page[o + 5] = 0x0F;
            page[o + 6] = 0x01;
            page[o + 7] = amd ? (byte)0xD9 : (byte)0xC1;
            page[o + 8] = 0xC3;
        }

        return page;
    }

    /// <summary>
    /// A 64-bit PV guest's page (pv_ring3_init_hypercall_page): each slot saves RCX and R11
    /// around <c>syscall</c>: <c>push %rcx; push %r11; mov $nr, %eax; syscall; pop %r11; pop %rcx;
    /// ret</c>; the iret slot pushes RCX, R11, RAX and makes the call without returning. With
    /// <paramref name="int82"/> (our extension, a hypercall iopl above 0) each <c>syscall</c>
    /// becomes <c>int $0x82</c>, of the same length, so a call in flight while the page is
    /// rewritten (set_hypercall_iopl itself) returns into the same instruction boundaries.
    /// </summary>
    public static byte[] BuildPv64(bool int82 = false)
    {
        byte op0 = int82 ? (byte)0xCD : (byte)0x0F, op1 = int82 ? (byte)0x82 : (byte)0x05;
        var page = Filled();
        for (int nr = 0; nr < HypercallNumber.PageSlots; nr++)
        {
            int o = nr * SlotSize;
            byte[] stub = nr == HypercallNumber.Iret
                ? [0x51, 0x41, 0x53, 0x50, .. MovEax(nr), op0, op1]
                : [0x51, 0x41, 0x53, .. MovEax(nr), op0, op1, 0x41, 0x5B, 0x59, 0xC3];
            stub.CopyTo(page, o);
        }

        return page;
    }

    /// <summary>
    /// A compat guest's page (pv_ring1_init_hypercall_page): <c>mov $nr, %eax; int $0x82; ret</c>; the iret
    /// slot <c>push %eax; mov $__HYPERVISOR_iret, %eax; int $0x82</c>.
    /// </summary>
    public static byte[] BuildInt82()
    {
        var page = Filled();
        for (int nr = 0; nr < HypercallNumber.PageSlots; nr++)
        {
            int o = nr * SlotSize;
            byte[] stub = nr == HypercallNumber.Iret
                ? [0x50, .. MovEax(nr), 0xCD, 0x82]
                : [.. MovEax(nr), 0xCD, 0x82, 0xC3];
            stub.CopyTo(page, o);
        }

        return page;
    }

    private static byte[] Filled()
    {
        var page = new byte[Size];
        Array.Fill(page, (byte)0xCC);
        return page;
    }

    private static byte[] MovEax(int nr) => [0xB8, .. BitConverter.GetBytes(nr)];
}
