namespace Xtf.Core.Xen;

/// <summary>
/// The hypercall page Xen writes into an HVM guest (init_hypercall_page, vmx/svm
/// _init_hypercall_page): filled with 0xCC, then one 32-byte stub per hypercall,
/// <c>mov $nr, %eax; vmcall; ret</c>, except __HYPERVISOR_iret whose slot is <c>ud2</c>.
/// </summary>
public static class HypercallPage
{
    public const int Size = 4096;
    public const int SlotSize = 32;

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
}
