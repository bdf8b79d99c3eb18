using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Guest.Image;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Core.Guest.Runtime;

public sealed partial class GuestRuntime
{
    private readonly Stack<(Func<ulong, ulong> Body, ulong Result)> userFunctions = new();
    private ulong userTextTop = HvmLayout.UserText;
    private ulong? execCaptureUserGate;
    private ulong? execReturnUserGate;
    private ulong? execUserFunctionGate;

    /// <summary>exec_capture on the user gate page, for Exec snippets run at CPL 3.</summary>
    private ulong ExecCaptureUserGate => execCaptureUserGate ??= Gates.Register("exec_capture_user", CaptureExecRegisters, user: true);

    /// <summary>exec_return on the user gate page.</summary>
    private ulong ExecReturnUserGate => execReturnUserGate ??= Gates.Register("exec_return_user", () => throw ReturnOutsideExec(), user: true);

    /// <summary>The user function a CPL 3 <c>call</c> reaches in <see cref="ExecUser(Func{ulong, ulong}, ulong)"/>.</summary>
    private ulong ExecUserFunctionGate => execUserFunctionGate ??= Gates.Register("exec_user_fn", CallUserFunction, user: true);

    /// <summary>XTF's exec_user_cs: the code segment ExecUser's IRET loads (__USER_CS; in hvm64 the 64-bit one).</summary>
    public ushort ExecUserCs { get; set; }

    /// <summary>XTF's exec_user_ss: the stack segment ExecUser's IRET loads (__USER_DS).</summary>
    public ushort ExecUserSs { get; set; }

    /// <summary>XTF's exec_user_efl_and_mask: ANDed into the kernel's EFLAGS for the IRET frame (HVM: all ones).</summary>
    public ulong ExecUserEflagsAndMask { get; set; } = ~0ul;

    /// <summary>XTF's exec_user_efl_or_mask: ORed in after the AND (for example IOPL 3).</summary>
    public ulong ExecUserEflagsOrMask { get; set; }

    /// <summary>
    /// XTF's exec_user: runs <paramref name="body"/> at CPL 3. A kernel snippet saves the registers
    /// and EFLAGS, leaves its stack pointer where entry_ret_to_kernel finds it, and IRETs (IRETQ
    /// in hvm64) with SS = <see cref="ExecUserSs"/>, ESP = the top of the user stack, EFLAGS =
    /// the kernel's ANDed with <see cref="ExecUserEflagsAndMask"/> and ORed with
    /// <see cref="ExecUserEflagsOrMask"/>, CS = <see cref="ExecUserCs"/>, EIP = the body on a
    /// user text page. The body ends with <c>int $X86_VEC_RET2KERN</c>, whose DPL 3 gate returns
    /// to the kernel snippet. Exceptions in the body are recorded as in <see cref="Exec"/>; the
    /// fixup is the end of the body, still at CPL 3. A fault on the IRET itself (a bad tunable)
    /// is recorded too and the body does not run. The registers returned are those at the end of
    /// the body; EFLAGS is the user EFLAGS the <c>int</c> saved.
    /// </summary>
    public ExecResult ExecUser(Action<Assembler> body, ExecFaults faults = ExecFaults.Record, ExtableHandler? handler = null)
    {
        // The guest may have left kernel mode behind the test's back (a HYPERVISOR_iret of its own
        // making): XTF's exec_user, a kernel function, would then fault on its first privileged
        // step. The domain dies of it, a CRASH with the reason, as XTF's would.
        if (InUserMode)
            Panic("exec_user from user mode: XTF's exec_user is a kernel function\n");
        ushort userCs = ExecUserCs != 0 ? ExecUserCs : UserCs;
        ulong userStart = userTextTop;
        var user = new Assembler(CodeBitness(userCs));
        body(user);

        // The end is found by instruction index, not by a label: the body may end with a label of
        // its own, which then names the int.
        int endIndex = user.Instructions.Count;
        user.@int(HvmLayout.VectorReturnToKernel);
        var userCode = X86Assembly.Assemble(user, userStart);
        if (userStart + (ulong)userCode.Bytes.Length > HvmLayout.UserText + HvmLayout.UserTextSize)
            throw new InvalidOperationException("user text full");
        WriteCode(userStart, userCode.Bytes);
        ulong endAddress = userStart + userCode.InstructionOffsets[endIndex];

        int depth = execFrames.Count;
        ulong start = snippetTop;
        ulong saveSlot = HvmLayout.ExecSaveSlots + (ulong)(depth * 8);
        var kernel = new Assembler(Bitness);
        var enter = kernel.CreateLabel("enter");
        var iret = kernel.CreateLabel("iret");
        var back = kernel.CreateLabel("back");
        if (Bitness == 64)
            kernel.pushfq();
        else
            kernel.pushfd();
        EmitExecPrologue(kernel, saveSlot);
        kernel.call(enter);
        kernel.Label(ref back);
        kernel.call(execCaptureGate);
        EmitExecEpilogue(kernel, saveSlot);
        if (Bitness == 64)
            kernel.popfq();
        else
            kernel.popfd();
        kernel.jmp(execReturnGate);
        kernel.Label(ref enter);
        EmitIretToUser(kernel, userCs, userStart, ref iret);
        var kernelCode = X86Assembly.Assemble(kernel, start);
        if (start + (ulong)kernelCode.Bytes.Length > HvmLayout.Snippets + HvmLayout.SnippetsSize)
            throw new InvalidOperationException("Exec snippets nested too deeply");
        WriteCode(start, kernelCode.Bytes);

        var frame = new ExecFrame
        {
            RecordsFaults = faults == ExecFaults.Record && handler is null,
            End = endAddress,
            CodeSegment = userCs,
            User = true,
        };
        ExtableHandler record = (regs, entry) =>
        {
            frame.Fault = regs.ExInfo;
            regs.Rip = entry.Fixup;
            return true;
        };
        var entries = new List<ExtableEntry> { new(kernelCode.LabelAddress(iret), kernelCode.LabelAddress(back), record) };
        if (faults == ExecFaults.Record || handler is not null)
            entries.AddRange(BoundaryEntries(userStart, userCode.InstructionOffsets, endAddress, handler ?? record));

        snippetTop = start + (((ulong)kernelCode.Bytes.Length + 15) & ~15ul);
        userTextTop = userStart + (((ulong)userCode.Bytes.Length + 15) & ~15ul);
        ulong outerReturnSlot = ReadKernel(HvmLayout.ExecUserReturnSlot);
        RunSnippet(start, execReturnGate, frame, entries, () =>
        {
            WriteKernelBytes(HvmLayout.ExecUserReturnSlot, BitConverter.GetBytes(outerReturnSlot).AsSpan(0, Bitness / 8));
            snippetTop = start;
            userTextTop = userStart;
        });

        return frame.Registers with { Fault = frame.Fault };
    }

    /// <summary>
    /// XTF's exec_user_param(fn, p1): <paramref name="body"/> runs at CPL 3 with
    /// <paramref name="param"/> and its result is returned. The user text calls the body as a C
    /// function (i386 cdecl: the argument pushed on the user stack; x86-64 SysV: in RDI) through
    /// a gate on the user gate page, so the body runs with CPL 3 and the user stack; x86 it
    /// executes (<see cref="Exec"/>) runs at CPL 3 on user text. The result comes back in
    /// EAX/RAX through X86_VEC_RET2KERN. A fault outside the body (a bad exec_user tunable)
    /// panics, as it would crash XTF.
    /// </summary>
    public ulong ExecUser(Func<ulong, ulong> body, ulong param)
    {
        userFunctions.Push((body, 0));
        ulong gate = ExecUserFunctionGate;
        bool wide = CodeBitness(ExecUserCs != 0 ? ExecUserCs : UserCs) == 64;
        try
        {
            var r = ExecUser(a =>
            {
                if (wide)
                {
                    a.mov(rdi, param);
                    a.call(gate);
                }
                else
                {
                    a.push((int)(uint)param);
                    a.call((uint)gate);
                    a.add(esp, 4);
                }
            });
            if (!r.Fault.IsNone)
                Panic($"exec_user: {r.Fault} outside the user function\n");
            return wide ? r.Rax : r.Eax;
        }
        finally
        {
            userFunctions.Pop();
        }
    }

    /// <summary>The exec_user_fn gate: the body's argument from the C ABI, its result in EAX/RAX, then <c>ret</c>.</summary>
    private void CallUserFunction()
    {
        var (body, _) = userFunctions.Peek();
        bool wide = Cpu.Bitness == 64;
        ulong param = wide ? Cpu[X86Cpu.RDI] : Cpu.PeekStack(4, 4);
        ulong result = body(param);
        if (wide)
            Cpu[X86Cpu.RAX] = result;
        else
            Cpu.Eax = (uint)result;
        Cpu.Rip = Cpu.Pop(wide ? 8 : 4);
    }

    /// <summary>
    /// XTF's exec_user_param after the call: the return address (the kernel snippet's continuation)
    /// is on the stack, whose pointer goes to the slot entry_ret_to_kernel loads; then the IRET
    /// frame (SDM vol. 3, 6.12.1: SS, ESP, EFLAGS, CS, EIP; in 64-bit mode five 8-byte slots).
    /// </summary>
    private void EmitIretToUser(Assembler a, ushort userCs, ulong userEntry, ref Label iret)
    {
        if (Bitness == 64)
        {
            a.mov(__qword_ptr[(uint)HvmLayout.ExecUserReturnSlot], rsp);
            a.push(ExecUserSs);
            a.push((int)HvmLayout.UserStackTop);
            a.pushfq();
            a.mov(rax, ExecUserEflagsAndMask);
            a.and(__qword_ptr[rsp], rax);
            a.mov(rax, ExecUserEflagsOrMask);
            a.or(__qword_ptr[rsp], rax);
            a.push(userCs);
            a.push((int)userEntry);
            a.Label(ref iret);
            if (IsPv)
            {
                // HYPERVISOR_iret: the flags word (not VGCF_in_syscall), then the page's iret slot.
                a.push(0);
                a.jmp(PvLayout.HypercallIret);
                return;
            }

            a.iretq();
            return;
        }

        a.mov(__dword_ptr[(uint)HvmLayout.ExecUserReturnSlot], esp);
        a.push(ExecUserSs);
        a.push((int)HvmLayout.UserStackTop);
        a.pushfd();
        a.and(__dword_ptr[esp], (int)(uint)ExecUserEflagsAndMask);
        a.or(__dword_ptr[esp], (int)(uint)ExecUserEflagsOrMask);
        a.push(userCs);
        a.push((int)userEntry);
        a.Label(ref iret);
        if (IsPv)
            a.jmp((uint)PvLayout.HypercallIret);
        else
            a.iretd();
    }

    /// <summary>
    /// The width of code run on <paramref name="selector"/>: in hvm64, 64 if its GDT descriptor has
    /// L set (SDM vol. 3, 5.2.1), else 32 (compatibility mode); 32 in the other environments.
    /// </summary>
    private int CodeBitness(ushort selector)
    {
        if (Bitness != 64 || (selector & 4) != 0)
            return Bitness;
        if (IsPv)
            return selector == Xen.Pv.PvAbi.FlatRing3Cs32On64 ? 32 : 64;
        ulong descriptor = ReadKernel(HvmLayout.Gdt + (ulong)(selector & ~7));
        return (descriptor & (1ul << 53)) != 0 ? 64 : 32;
    }

    /// <summary>The user EFLAGS of ExecUser's <c>int $X86_VEC_RET2KERN</c>: the IRET frame at the top of the ring-0 stack.</summary>
    private uint UserEflagsAtReturn()
    {
        // SDM vol. 3, 6.14.2: in IA-32e mode the new RSP is aligned to 16 and five 8-byte slots
        // are pushed (RFLAGS is the third from the top); otherwise 4-byte SS, ESP, EFLAGS, CS, EIP.
        ulong top = HvmLayout.Ring0StackTop & ~15ul;
        return (uint)(Bitness == 64 ? ReadKernel(top - 24) : ReadKernel(HvmLayout.Ring0StackTop - 12));
    }

    private ulong ReadKernel(ulong address) =>
        Cpu.ReadLogical(X86Cpu.DS, address, Bitness / 8);
}
