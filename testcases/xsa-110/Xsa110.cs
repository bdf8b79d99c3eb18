using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.Xsa110;

/// <summary>
/// XSA-110: "Missing privilege level checks in x86 emulation of far branches". No upstream test
/// exists; this checks that far JMP, far CALL and far RET at CPL 3 onto the kernel's code segment
/// (nonconforming, DPL 0, selector RPL 0) raise #GP(selector), natively and through the
/// hypervisor's emulator (FEP), guarding XSA-110. SDM vol. 2, JMP and CALL: a nonconforming
/// target needs RPL &lt;= CPL and DPL = CPL; RET: the return selector needs RPL &gt;= CPL. The
/// emulator before Xen 82fa062345 checked only DPL = RPL, which selector RPL 0 passes, and loaded
/// the ring-0 code segment with the CPL unchanged (it came from SS): the branch lands on code of
/// the test's own, in user text (at CPL 3 kernel text is not fetchable through the supervisor
/// mappings), which records CS and returns to the kernel through X86_VEC_RET2KERN as the user
/// code would, so the test can report that the kernel's code segment was loaded.
/// </summary>
[XtfTest("xsa-110", Category.Xsa, Environments.Hvm, Title = "XSA-110 PoC", Guards = ["xsa-110"])]
public sealed class Xsa110 : TestCase
{
    /// <summary>A far pointer (m16:32: offset, then selector) on the user data page CPL 3 may read.</summary>
    private const uint FarPointer = (uint)HvmLayout.UserData;

    private ushort kernelCs;
    private uint landing;

    public override void Main()
    {
        if (!XtfHasFep)
            Skip("FEP support not detected - some tests will be skipped\n");

        kernelCs = HvmLayout.KernelCsFor(Environment);
        landing = (uint)AssembleUserCode(EmitLanding);

        if (Bitness == 32)
        {
            Probe("jmp ptr16:32", a => () => a.AddInstruction(Instruction.CreateBranch(Code.Jmp_ptr1632, kernelCs, landing)));
            Probe("call ptr16:32", a => () => a.AddInstruction(Instruction.CreateBranch(Code.Call_ptr1632, kernelCs, landing)));
        }

        Probe("jmp m16:32", a =>
        {
            WriteFarPointer(a);
            return () => a.jmp(__fword_ptr[FarPointer]);
        });
        Probe("call m16:32", a =>
        {
            WriteFarPointer(a);
            return () => a.call(__fword_ptr[FarPointer]);
        });
        Probe("retf", a =>
        {
            // RETF with a 32-bit operand size (CB without REX.W, also in 64-bit mode) pops a 4-byte offset, then CS.
            var sp = Bitness == 64 ? (AssemblerRegister64?)rsp : null;
            if (sp is { } rsp64)
            {
                a.sub(rsp64, 8);
                a.mov(__dword_ptr[rsp64], (int)landing);
                a.mov(__dword_ptr[rsp64 + 4], kernelCs);
            }
            else
            {
                a.sub(esp, 8);
                a.mov(__dword_ptr[esp], (int)landing);
                a.mov(__dword_ptr[esp + 4], kernelCs);
            }

            return () => a.AddInstruction(Instruction.Create(Code.Retfd));
        });

        Success();
    }

    /// <summary>
    /// Runs the branch <paramref name="setup"/> returns at CPL 3, natively and then through FEP
    /// (when available), after the setup it emits; each must raise #GP(kernel CS). EBX, 0 before
    /// the branch, holds CS if the branch reached the landing code.
    /// </summary>
    private void Probe(string name, Func<Assembler, Action> setup)
    {
        var expected = ExInfo.Fault(X86Vector.GP, kernelCs);
        Check($"{name} at CPL 3 to the kernel's CS", expected, ExecUserDetailed(a =>
        {
            var branch = setup(a);
            a.xor(ebx, ebx);
            branch();
        }));
        if (!XtfHasFep)
            return;
        Check($"emulated {name} at CPL 3 to the kernel's CS", expected, ExecUserDetailed(a =>
        {
            var branch = setup(a);
            a.xor(ebx, ebx);
            a.Fep();
            branch();
        }));
    }

    private void Check(string what, ExInfo expected, ExecResult r)
    {
        if (r.Ebx != 0)
            Failure($"Fail: {what} loaded the kernel's code segment (CS {r.Ebx:x4}) - vulnerable to XSA-110\n");
        else if (r.Fault != expected)
            Failure($"Fail: {what}: expected {expected}, got {r.Fault}\n");
    }

    private void WriteFarPointer(Assembler a)
    {
        a.mov(__dword_ptr[FarPointer], (int)landing);
        a.mov(__word_ptr[FarPointer + 4], kernelCs);
    }

    /// <summary>
    /// Reached only through a far branch that should have faulted: records CS in EBX and returns
    /// to ExecUser's kernel side through X86_VEC_RET2KERN (a DPL 3 gate) as the end of the user
    /// code does, at the CPL the branch left (3: the old emulator did not change it).
    /// </summary>
    private static void EmitLanding(Assembler a)
    {
        a.mov(ebx, cs);
        a.@int(HvmLayout.VectorReturnToKernel);
    }
}
