using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Machine;

namespace Xtf.Tests.Cpu;

/// <summary>
/// The decoded-instruction cache must be invisible: the same bytes reached at another address,
/// or rewritten, execute as the architecture says for that address and those bytes.
/// </summary>
[TestFixture]
public sealed class DecodeCacheTests
{
    [TestCase(TestName = "A relative JMP is relative to the RIP it executes at: the same physical bytes at 1000:0000 and 0FF0:0100 branch to different offsets")]
    public void RelativeBranchTargetFollowsTheExecutingRip()
    {
        var vm = new VirtualMachine(new MachineOptions { MemoryBytes = 1 << 20, InstructionBudget = 100 });
        // jmp short +1 (EB 01); hlt; hlt: the jump skips the first HLT, so the CPU halts after
        // the second one, at offset 4 from where the code starts.
        vm.Memory.Write(0x10000, [0xEB, 0x01, 0xF4, 0xF4]);
        var cpu = vm.Cpu;

        cpu.Segments[X86Cpu.CS].LoadReal(0x1000);
        cpu.Rip = 0;
        Assert.That(cpu.Run(), Is.EqualTo(StopReason.Halted));
        Assert.That(cpu.Rip, Is.EqualTo(4ul), "1000:0000: jump to 1000:0003, HLT retires at 0004");

        // Same physical address 0x10000 as 0FF0:0100: the jump now lands at 0FF0:0103. (A stale
        // decode would jump to 0FF0:0003, into zeroed memory, and never halt within the budget.)
        cpu.Segments[X86Cpu.CS].LoadReal(0x0FF0);
        cpu.Rip = 0x100;
        cpu.UpdateMode();
        Assert.That(cpu.Run(), Is.EqualTo(StopReason.Halted));
        Assert.That(cpu.Rip, Is.EqualTo(0x104ul), "0FF0:0100: jump to 0FF0:0103, HLT retires at 0104");
    }

    [TestCase(TestName = "A compiled block is dropped when an instruction it covers is decoded again for another RIP")]
    public void CompiledBlockIsDroppedWhenItsInstructionsAreDecodedAgain()
    {
        var vm = new VirtualMachine(new MachineOptions { MemoryBytes = 1 << 20 });
        // 0: nop; 1: inc ax; 2: dec cx; 3: jnz 1 (75 FC); 5: hlt
        vm.Memory.Write(0x10000, [0x90, 0x40, 0x49, 0x75, 0xFC, 0xF4]);
        var cpu = vm.Cpu;

        // 300 iterations at 1000:0001: hot enough for the loop to be compiled as one block.
        RunAt(cpu, 0x1000, 0, cx: 300);
        Assert.That((cpu.Rip, cpu.Eax), Is.EqualTo((6ul, 300u)));

        // The same bytes as 0FF0:0102 (the DEC, then JNZ and HLT): decoded again for these RIPs,
        // the JNZ now targets 0FF0:0101. CX = 1, so it falls through to the HLT.
        RunAt(cpu, 0x0FF0, 0x102, cx: 1);
        Assert.That(cpu.Rip, Is.EqualTo(0x106ul));

        // Back at 1000:0000 the loop must branch to 1000:0001 again; a block still holding the
        // JNZ decoded for 0FF0 would jump to 1000:0101.
        RunAt(cpu, 0x1000, 0, cx: 5);
        Assert.That((cpu.Rip, cpu.Eax), Is.EqualTo((6ul, 5u)));
    }

    [TestCase(TestName = "Code at another physical page but the same offset and RIP runs its own bytes after a written code page's cache entries were dropped and reused")]
    public void DroppedCodeFrameLeavesNothingBehind()
    {
        var vm = new VirtualMachine(new MachineOptions { MemoryBytes = 1 << 20 });
        var cpu = vm.Cpu;

        // 1000:0000 (physical 0x10000): inc ax; inc ax; hlt.
        vm.Memory.Write(0x10000, [0x40, 0x40, 0xF4]);
        RunAt(cpu, 0x1000, 0, cx: 0);
        Assert.That(cpu.Eax, Is.EqualTo(2u));

        // A write to that page drops its decodes; the storage they used is reused for the next page
        // decoded. 2000:0000 (physical 0x20000, same offsets, same IPs): nop; dec ax; hlt. An entry
        // left from the first page would run INC at IP 1 again.
        cpu.InvalidateCode(0x10);
        vm.Memory.Write(0x20000, [0x90, 0x48, 0xF4]);
        RunAt(cpu, 0x2000, 0, cx: 0);
        Assert.That(cpu.Eax & 0xFFFF, Is.EqualTo(0xFFFFu), "DEC AX from 0 wraps to FFFF");
    }

    private static void RunAt(X86Cpu cpu, ushort cs, ushort ip, ushort cx)
    {
        cpu.Segments[X86Cpu.CS].LoadReal(cs);
        cpu.Rip = ip;
        cpu.Eax = 0;
        cpu.Ecx = cx;
        cpu.UpdateMode();
        cpu.Budget = 10_000;
        Assert.That(cpu.Run(), Is.EqualTo(StopReason.Halted), $"{cs:X4}:{ip:X4}");
    }
}
