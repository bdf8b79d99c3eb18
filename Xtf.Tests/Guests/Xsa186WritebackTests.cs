using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Emulation;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Guests;

/// <summary>
/// The writeback half of quirk xsa-186, which upstream's xsa-186 (and ours) never reaches: its
/// 16-bit stub runs at EIP 0x313000, whose bits 31:16 the written-back IP keeps anyway. Xen
/// 0640ffb6 wrote back only IP[15:0] of the emulated result over the EIP the emulator was entered
/// with (<c>*(uint16_t *)&amp;_regs.eip = ip</c>; reverted by e9575f980d). Here an emulated NOP at
/// offset 0xFFFF of a 16-bit code segment with a 4 GiB limit ends at EIP 0x10000: hardware never
/// truncates EIP in 16-bit code (SDM vol. 3, 5.3: only the CS limit bounds it; XTF
/// tests/xsa-186/main.c states the same of real hardware), so the fixed emulator continues at
/// 0x10000, and the vulnerable one at 0x0000. The fetch half cannot interfere: the NOP's IP is
/// below 64 KiB, so IP[15:0] is the IP.
/// </summary>
[TestFixture]
public sealed class Xsa186WritebackTests
{
    public sealed class WritebackGuest : TestCase
    {
        private const int Code16Slot = HvmLayout.GdteAvail0 + 2;
        private const uint Base = 0x320000, Pointer = 0x300000;

        public override void Main()
        {
            SetGdtEntry(Code16Slot, SegmentDescriptor.CodeOrData(0xB, Base, 0xFFFFF, 0, big: false, granular: true));
            ulong continuation = AssembleKernelCode(a => a.db(0xCB));
            byte[] farJump = [0x66, 0xEA, .. BitConverter.GetBytes((uint)continuation), .. BitConverter.GetBytes(HvmLayout.KernelCsFor(Environment))];

            // FEP; nop at 0xFFFF. At 0x10000 (the untruncated EIP) mov ax, 0xc0de; at 0x0000
            // (IP[15:0] with EIP[31:16] of the entry EIP, 0) mov ax, 0x0bad; each jumps back.
            Poke(Base + 0xFFFA, [.. ForcedEmulation.Signature, 0x90]);
            Poke(Base + 0x10000, [0xB8, 0xDE, 0xC0, .. farJump]);
            Poke(Base, [0xB8, 0xAD, 0x0B, .. farJump]);
            var r = ExecDetailed(a =>
            {
                a.mov(__dword_ptr[Pointer], 0xFFFAu);
                a.mov(__word_ptr[Pointer + 4], (ushort)(Code16Slot << 3));
                a.xor(eax, eax);
                a.call(__fword_ptr[Pointer]);
            });
            Printk($"ax {r.Eax & 0xFFFF:x4}\n");
            Success();
        }

        private void Poke(uint linear, byte[] bytes) => Exec(a =>
        {
            for (int i = 0; i < bytes.Length; i++)
                a.mov(__byte_ptr[linear + (uint)i], bytes[i]);
        });
    }

    [Test]
    public void EmulatedIpCrossingSixtyFourKiBIsWrittenBackWhole()
    {
        var fixedRun = GuestHarness.Run<WritebackGuest>();
        var quirkRun = GuestHarness.Run<WritebackGuest>(settings: new RunSettings { Quirks = new HashSet<Quirk> { Quirk.Xsa186 } });
        Assert.Multiple(() =>
        {
            Assert.That(fixedRun.ConsoleLog, Does.Contain("ax c0de"), fixedRun.ConsoleLog + fixedRun.Diagnostic);
            Assert.That(quirkRun.ConsoleLog, Does.Contain("ax 0bad"), quirkRun.ConsoleLog + quirkRun.Diagnostic);
        });
    }
}
