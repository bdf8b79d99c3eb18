using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Guests;

/// <summary>
/// The emulator's own BT/BTS/BTR/BTC (register bit offset into memory) and CMPXCHG8B forms,
/// run natively and behind the forced emulation prefix: both must give what the SDM says, worked
/// out by hand per case. The quirks re-create XSA-195 and XSA-200 only where those bugs lived.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class EmulatedBitOperationTests
{
    /// <summary>The bit string's base, in free RAM above the image; units below and above it are preset.</summary>
    private const uint Base = 0x300100;

    /// <summary>One BTx case: the unit the SDM selects (by hand), its value before and after, CF.</summary>
    private sealed record BitCase(string Rule, Mnemonic Op, int Size, ulong Offset, long UnitDisplacement, ulong Before, ulong After, bool Cf);

    private static readonly BitCase[] BitCases =
    [
        // -1 DIV 32 = -1: the dword at Base - 4, bit -1 MOD 32 = 31.
        new("BT m32, r32 with offset -1 tests bit 31 of the dword below the base", Mnemonic.Bt, 4, 0xFFFFFFFF, -4, 0x80000000, 0x80000000, true),

        // 130 DIV 64 = 2: the qword at Base + 16, bit 2.
        new("BTS m64, r64 with offset 130 sets bit 2 of the third qword", Mnemonic.Bts, 8, 130, 16, 0, 4, false),

        // -17 DIV 16 = -2 (rounding towards negative infinity): the word at Base - 4, bit 15.
        new("BTR m16, r16 with offset -17 clears bit 15 of the word two below the base", Mnemonic.Btr, 2, 0xFFEF, -4, 0x8000, 0, true),

        // -65 DIV 64 = -2: the qword at Base - 16, bit 63.
        new("BTC m64, r64 with offset -65 complements bit 63 of the qword two below the base", Mnemonic.Btc, 8, unchecked((ulong)-65), -16, 0, 0x8000000000000000, false),

        // 0x3FFFFFF DIV 32 = 0x1FFFFF dwords: 0x7FFFFC bytes up, bit 31 (a register offset is not reduced modulo the size).
        new("BTS m32, r32 with offset 2^26-1 sets bit 31 of the dword 8 MiB above the base", Mnemonic.Bts, 4, 0x3FFFFFF, 0x7FFFFC, 0, 0x80000000, false),
    ];

    /// <summary>Runs every case natively, then through the emulator, against the SDM's result.</summary>
    public sealed class BitTestGuest : TestCase
    {
        public override void Main()
        {
            foreach (var c in BitCases)
            {
                foreach (bool fep in new[] { false, true })
                {
                    if (fep && !XtfHasFep)
                        continue;
                    ulong unit = (ulong)((long)Base + c.UnitDisplacement);
                    var r = ExecDetailed(a =>
                    {
                        a.mov(rax, unit);
                        a.mov(rcx, c.Before);
                        a.mov(__qword_ptr[rax], rcx);
                        a.mov(eax, Base);
                        a.mov(rdx, c.Offset);
                        a.xor(ebx, ebx);
                        if (fep)
                            a.Fep();
                        Emit(a, c);
                        a.setc(bl);
                        a.mov(rax, unit);
                        a.mov(rax, __qword_ptr[rax]);
                    });
                    ulong mask = c.Size == 8 ? ulong.MaxValue : (1ul << (c.Size * 8)) - 1;
                    if (r.Fault != ExInfo.None || (r.Rax & mask) != c.After || (r.Ebx != 0) != c.Cf)
                        Failure($"Fail: {(fep ? "emulated" : "native")} {c.Rule}: {r.Fault}, unit {r.Rax & mask:x}, CF {r.Ebx}; expected {c.After:x}, CF {(c.Cf ? 1 : 0)}\n");
                }
            }

            Success();
        }

        private static void Emit(Assembler a, BitCase c)
        {
            switch (c.Size, c.Op)
            {
                case (2, Mnemonic.Btr):
                    a.btr(__word_ptr[rax], dx);
                    break;
                case (4, Mnemonic.Bt):
                    a.bt(__dword_ptr[rax], edx);
                    break;
                case (4, Mnemonic.Bts):
                    a.bts(__dword_ptr[rax], edx);
                    break;
                case (8, Mnemonic.Bts):
                    a.bts(__qword_ptr[rax], rdx);
                    break;
                case (8, Mnemonic.Btc):
                    a.btc(__qword_ptr[rax], rdx);
                    break;
                default:
                    throw new InvalidOperationException($"no encoding for {c.Op} size {c.Size}");
            }
        }
    }

    /// <summary>
    /// CMPXCHG8B with and without a 66 prefix (SDM vol. 2, CMPXCHG8B: the operand is m64 either
    /// way). Equal: ZF = 1 and the qword becomes ECX:EBX. Unequal: ZF = 0, EDX:EAX gets the qword,
    /// which is unchanged.
    /// </summary>
    public sealed class CompareExchangeGuest : TestCase
    {
        private const uint Operand = 0x300000;
        private const ulong Mem = 0xc2c2c2c2c2c2c2c2, NewValue = 0xfedcba9876543210;

        public override void Main()
        {
            foreach (bool prefix in new[] { false, true })
            {
                foreach (bool equal in new[] { false, true })
                {
                    foreach (bool fep in new[] { false, true })
                    {
                        if (fep && !XtfHasFep)
                            continue;
                        ulong old = equal ? Mem : 0x0123456789abcdef;
                        var r = ExecDetailed(a =>
                        {
                            a.mov(__dword_ptr[Operand], unchecked((uint)Mem));
                            a.mov(__dword_ptr[Operand + 4], (uint)(Mem >> 32));
                            a.mov(eax, unchecked((uint)old));
                            a.mov(edx, (uint)(old >> 32));
                            a.mov(ebx, unchecked((uint)NewValue));
                            a.mov(ecx, (uint)(NewValue >> 32));
                            if (fep)
                                a.Fep();
                            if (prefix)
                                a.db(0x66);
                            a.cmpxchg8b(__qword_ptr[Operand]);
                            a.setz(cl);
                            a.movzx(esi, cl);
                            a.mov(edi, __dword_ptr[Operand]);
                            a.mov(ecx, __dword_ptr[Operand + 4]);
                        });
                        ulong accumulator = ((ulong)r.Edx << 32) | r.Eax, memory = ((ulong)r.Ecx << 32) | r.Edi;
                        ulong wantAccumulator = Mem, wantMemory = equal ? NewValue : Mem;
                        string how = $"{(fep ? "emulated" : "native")} {(prefix ? "66 " : "")}cmpxchg8b, {(equal ? "equal" : "unequal")}";
                        if (r.Fault != ExInfo.None || accumulator != wantAccumulator || memory != wantMemory || r.Esi != (equal ? 1u : 0u))
                            Failure($"Fail: {how}: {r.Fault}, EDX:EAX {accumulator:x16}, m64 {memory:x16}, ZF {r.Esi}; expected {wantAccumulator:x16}, {wantMemory:x16}, ZF {(equal ? 1 : 0)}\n");
                    }
                }
            }

            Success();
        }
    }

    [Test]
    public void BitTestsWithARegisterOffsetSelectTheSameUnitNativelyAndEmulated()
    {
        var o = GuestHarness.Run<BitTestGuest>(env: Environments.Hvm64);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
    }

    /// <summary>XSA-195 truncated only displacements of 2^32 bytes or more: these small offsets are unaffected.</summary>
    [Test]
    public void TheXsa195QuirkLeavesDisplacementsBelow4GiBAlone()
    {
        var o = GuestHarness.Run<BitTestGuest>(env: Environments.Hvm64, settings: new RunSettings { Quirks = new HashSet<Quirk> { Quirk.Xsa195 } });
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
    }

    [TestCase(Environments.Hvm32)]
    [TestCase(Environments.Hvm64)]
    public void Cmpxchg8bIgnoresTheOperandSizePrefixNativelyAndEmulated(Environments env)
    {
        var o = GuestHarness.Run<CompareExchangeGuest>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
    }

    /// <summary>With the XSA-200 quirk the prefixed unequal case leaks the hypervisor's rubble into EDX.</summary>
    [Test]
    public void TheXsa200QuirkMakesThePrefixedFormReadFourBytes()
    {
        var o = GuestHarness.Run<CompareExchangeGuest>(settings: new RunSettings { Quirks = new HashSet<Quirk> { Quirk.Xsa200 } });
        Assert.That(o.Result, Is.EqualTo(TestResult.Failure), o.ConsoleLog + o.Diagnostic);
        Assert.That(o.ConsoleLog, Does.Contain("Fail: emulated 66 cmpxchg8b, unequal"));
        Assert.That(o.ConsoleLog, Does.Not.Contain("Fail: emulated cmpxchg8b"));
        Assert.That(o.ConsoleLog, Does.Not.Contain("Fail: native"));
    }
}
