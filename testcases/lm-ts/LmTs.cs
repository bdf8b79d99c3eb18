using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.LmTs;

/// <summary>
/// lm-ts (XTF tests/lm-ts): task switches are gone from long mode, but they are not the only
/// source of #TS. A limit violation reading the inner stack pointer from the TSS is one, in 64-bit
/// mode (and in 32-bit mode, to show the behaviour is consistent). The TSS limit is cut so that it
/// includes {e,r}sp0 (exceptions from user mode can still be handled) but not {e,r}sp1; a DPL 3
/// interrupt gate to a ring-1 code segment, invoked by <c>int</c> from user mode, must then raise
/// #TS with the TSS selector as error code (SDM vol. 3, 6.12.1: the stack for the new privilege
/// level is read from the TSS; vol. 3, 7.2.2 / 7.7: an access beyond the TSS limit is #TS).
/// </summary>
[XtfTest("lm-ts", Category.Functional, Environments.Hvm32 | Environments.Hvm64, Title = "Test Long Mode #TS")]
public sealed class LmTs : TestCase
{
    /// <summary>offsetof(esp1) in the 32-bit TSS and offsetof(rsp1) in the 64-bit one: both 0xc.</summary>
    private const uint Sp1Offset = 0xC;

    private const int Ring1CodeSlot = HvmLayout.GdteAvail0;

    public override void Main()
    {
        bool longMode = Bitness == 64;

        // The TSS descriptor edited in place: Busy back to Available, the limit below {e,r}sp1;
        // then TR reloaded. (The upper half of the 16-byte descriptor of hvm64, base 63:32, is 0.)
        var tss = SegmentDescriptor.System(0x9, HvmLayout.Tss, Sp1Offset - 1);

        // Ring-1 code: 32-bit (D) or 64-bit (L).
        SetGdtEntry(Ring1CodeSlot, longMode ? SegmentDescriptor.Code64(1) : SegmentDescriptor.Code32(1));

        // A DPL 3 interrupt gate to selector (slot << 3) | 1, offset 0.
        ushort selector = (ushort)((Ring1CodeSlot << 3) | 1);
        ulong gateLow = longMode
            ? ((ulong)selector << 16) | ((ulong)(SystemDescriptorType.InterruptGate64 | (3 << 5) | 0x80) << 40)
            : SegmentDescriptor.Gate(SystemDescriptorType.InterruptGate32, selector, 0, 3).Raw;
        ulong gate = HvmLayout.Idt + (ulong)(HvmLayout.VectorAvailable * (longMode ? 16 : 8));

        var setup = Exec(a =>
        {
            a.mov(__dword_ptr[HvmLayout.Gdt + (HvmLayout.GdteTss * 8)], (uint)tss.Raw);
            a.mov(__dword_ptr[HvmLayout.Gdt + (HvmLayout.GdteTss * 8) + 4], (uint)(tss.Raw >> 32));
            a.mov(eax, (uint)HvmLayout.TssSelector);
            a.ltr(ax);
            a.mov(__dword_ptr[gate], (uint)gateLow);
            a.mov(__dword_ptr[gate + 4], (uint)(gateLow >> 32));
            if (longMode)
            {
                a.mov(__dword_ptr[gate + 8], 0u);
                a.mov(__dword_ptr[gate + 12], 0u);
            }
        });
        if (setup != ExInfo.None)
        {
            Failure($"Fail: setting up the TSS and gate took {setup}\n");
            return;
        }

        var got = ExecUser(a => a.@int(HvmLayout.VectorAvailable));
        var expected = ExInfo.Fault(X86Vector.TS, SelectorErrorCode.Gdt(HvmLayout.GdteTss));
        if (got == expected)
            Printk($"  Got {got} as expected\n");
        else
            Failure($"Fail: expected {expected}, got {got}\n");

        Success();
    }
}
