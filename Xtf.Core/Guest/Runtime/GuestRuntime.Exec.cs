using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Memory;
using Xtf.Core.Guest.Image;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Core.Guest.Runtime;

/// <summary>How an Exec snippet's exceptions are handled.</summary>
public enum ExecFaults
{
    /// <summary>Any exception in the snippet is recorded as exinfo and the snippet ends (ex_record_fault).</summary>
    Record,

    /// <summary>No exception-table entries: exceptions reach the unhandled-exception hook, then panic.</summary>
    Unhandled,
}

/// <summary>What an Exec snippet left behind: the exception it took (if any) and the registers at its end.</summary>
public readonly record struct ExecResult(ExInfo Fault, uint Eax, uint Ebx, uint Ecx, uint Edx, uint Esi, uint Edi, uint Eflags)
{
    /// <summary>The whole of RAX (equal to <see cref="Eax"/> in the 32-bit environments).</summary>
    public ulong Rax { get; init; }
}

public sealed partial class GuestRuntime
{
    private readonly Stack<ExecFrame> execFrames = new();
    private ulong snippetTop = HvmLayout.Snippets;
    private ulong kernelCodeTop = HvmLayout.KernelCode;

    private sealed class ExecFrame
    {
        public ExInfo Fault;
        public ExecResult Registers;
        public bool RecordsFaults;
        public ulong End;
        public ushort CodeSegment;

        /// <summary>An ExecUser frame: the body ran at CPL 3 and returned through X86_VEC_RET2KERN.</summary>
        public bool User;
    }

    /// <summary>
    /// Runs an x86 snippet at the current CPL, the way an XTF inline-asm block runs. The snippet
    /// is wrapped in a prologue that saves the registers and the stack pointer and an epilogue
    /// that restores them, so it may clobber anything (in 64-bit mode, where PUSHAD does not
    /// exist, the prologue pushes the GPRs one by one). Every instruction boundary of the body
    /// gets an exception-table entry (unless <paramref name="faults"/> says otherwise) whose
    /// fixup is the end of the body; <paramref name="handler"/>, if given, decides instead.
    /// At CPL 3 (inside an <see cref="ExecUser(Func{ulong, ulong}, ulong)"/> body) the snippet
    /// lives on a user text page and returns through the user gate page.
    /// </summary>
    public ExecResult Exec(Action<Assembler> body, ExecFaults faults = ExecFaults.Record, ExtableHandler? handler = null) =>
        ExecCore((a, _) => body(a), faults, handler);

    /// <summary>
    /// XTF's inline asm with its own exception-table entries: the body places labels and names
    /// them in <see cref="AsmExtable"/> (_ASM_EXTABLE, _ASM_EXTABLE_HANDLER, _ASM_TRAP_OK). No
    /// other entries exist, so any other exception goes to the unhandled-exception hook, then panics.
    /// </summary>
    public ExecResult ExecAsm(Action<Assembler, AsmExtable> body) => ExecCore(body, ExecFaults.Unhandled, null);

    private ExecResult ExecCore(Action<Assembler, AsmExtable> body, ExecFaults faults, ExtableHandler? handler)
    {
        bool user = InUserMode;
        int depth = execFrames.Count;
        ulong start = user ? userTextTop : snippetTop;
        ulong saveSlot = (user ? HvmLayout.UserExecSaveSlots : HvmLayout.ExecSaveSlots) + (ulong)(depth * 8);
        var asm = new Assembler(user ? Cpu.Bitness : Bitness);
        var extable = new AsmExtable();
        int prologue = EmitExecPrologue(asm, saveSlot);
        body(asm, extable);

        // The end is found by instruction index, not by a label: the body may end with a label of
        // its own, which then names the capture call.
        int endIndex = asm.Instructions.Count;
        asm.call(user ? ExecCaptureUserGate : execCaptureGate);
        EmitExecEpilogue(asm, saveSlot);
        ulong returnGate = user ? ExecReturnUserGate : execReturnGate;
        asm.jmp(returnGate);
        var code = X86Assembly.Assemble(asm, start);
        ulong limit = user ? HvmLayout.UserText + HvmLayout.UserTextSize : HvmLayout.Snippets + HvmLayout.SnippetsSize;
        if (start + (ulong)code.Bytes.Length > limit)
            throw new InvalidOperationException(user ? "user text full" : "Exec snippets nested too deeply");

        WriteCode(start, code.Bytes);
        extable.Assembled(code);
        ulong endAddress = start + code.InstructionOffsets[endIndex];
        var frame = new ExecFrame
        {
            RecordsFaults = faults == ExecFaults.Record && handler is null,
            End = endAddress,
            CodeSegment = Cpu.Segments[X86Cpu.CS].Selector,
        };
        var entries = new List<ExtableEntry>(extable.Entries);
        if (faults == ExecFaults.Record || handler is not null)
        {
            ExtableHandler record = handler ?? ((regs, entry) =>
            {
                frame.Fault = regs.ExInfo;
                regs.Rip = entry.Fixup;
                return true;
            });
            entries.AddRange(BoundaryEntries(start, code.InstructionOffsets.Skip(prologue), endAddress, record));
        }

        ulong next = start + (((ulong)code.Bytes.Length + 15) & ~15ul);
        if (user)
            userTextTop = next;
        else
            snippetTop = next;
        RunSnippet(start, returnGate, frame, entries, () =>
        {
            if (user)
                userTextTop = start;
            else
                snippetTop = start;
        });

        return frame.Registers with { Fault = frame.Fault };
    }

    /// <summary>The GPRs other than RSP, in the order the 64-bit prologue pushes them.</summary>
    private static readonly AssemblerRegister64[] ExecSaved64 = [rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15];

    /// <summary>Saves the GPRs on the stack and the stack pointer in the save slot; returns the instruction count.</summary>
    private int EmitExecPrologue(Assembler asm, ulong saveSlot)
    {
        if (Bitness == 64)
        {
            foreach (var r in ExecSaved64)
                asm.push(r);
            asm.mov(__qword_ptr[(uint)saveSlot], rsp);
            return ExecSaved64.Length + 1;
        }

        asm.pushad();
        asm.mov(__dword_ptr[(uint)saveSlot], esp);
        return 2;
    }

    private void EmitExecEpilogue(Assembler asm, ulong saveSlot)
    {
        if (Bitness == 64)
        {
            asm.mov(rsp, __qword_ptr[(uint)saveSlot]);
            for (int i = ExecSaved64.Length - 1; i >= 0; i--)
                asm.pop(ExecSaved64[i]);
            return;
        }

        asm.mov(esp, __dword_ptr[(uint)saveSlot]);
        asm.popad();
    }

    /// <summary>
    /// Exception-table entries for every instruction boundary of a body, from its first
    /// instruction up to and including its end, each with <paramref name="end"/> as fixup.
    /// </summary>
    private static IEnumerable<ExtableEntry> BoundaryEntries(ulong start, IEnumerable<uint> offsets, ulong end, ExtableHandler handler)
    {
        foreach (uint offset in offsets)
        {
            ulong at = start + offset;
            yield return new ExtableEntry(at, end, handler);
            if (at == end)
                yield break;
        }
    }

    /// <summary>
    /// Runs a snippet written at <paramref name="start"/> until it returns through
    /// <paramref name="returnGate"/>, with its exception-table entries and frame in place; <paramref name="release"/> then
    /// gives back what the snippet allocated, whether it returned or not.
    /// </summary>
    private void RunSnippet(ulong start, ulong returnGate, ExecFrame frame, List<ExtableEntry> entries, Action release)
    {
        foreach (var e in entries)
            Extable.Add(e);
        execFrames.Push(frame);
        ulong resume = Cpu.Rip;
        try
        {
            Cpu.Rip = start;
            RunUntil(returnGate);
            Cpu.Rip = resume;
        }
        finally
        {
            release();
            execFrames.Pop();
            foreach (var e in entries)
                Extable.Remove(e);
        }
    }

    /// <summary>
    /// An exception the exception table did not cover, taken while a recording Exec is the
    /// innermost one and in its code segment (for example in code the snippet called, such as a
    /// hypercall stub), is recorded for that Exec and resumes at its end.
    /// </summary>
    private bool RecordForInnermostExec(ExceptionFrame regs)
    {
        if (!execFrames.TryPeek(out var frame) || !frame.RecordsFaults || regs.Cs != frame.CodeSegment)
            return false;
        frame.Fault = regs.ExInfo;
        regs.Rip = frame.End;
        return true;
    }

    /// <summary>Assembles permanent kernel code (for example a custom IDT handler) and returns its address.</summary>
    public ulong AssembleKernelCode(Action<Assembler> emit)
    {
        ulong at = kernelCodeTop;
        var code = X86Assembly.Assemble(Bitness, at, emit);
        if (at + (ulong)code.Bytes.Length > HvmLayout.KernelCode + HvmLayout.KernelCodeSize)
            throw new InvalidOperationException("kernel code area full");
        WriteCode(at, code.Bytes);
        kernelCodeTop = at + (((ulong)code.Bytes.Length + 15) & ~15ul);
        return at;
    }

    /// <summary>The exec_capture gate: snapshot the registers at the end of the body, then return.</summary>
    private void CaptureExecRegisters()
    {
        var frame = execFrames.Peek();
        uint eflags = frame.User ? UserEflagsAtReturn() : Cpu.Eflags;
        frame.Registers = new ExecResult(ExInfo.None, Cpu.Eax, Cpu.Ebx, Cpu.Ecx, Cpu.Edx, Cpu.Esi, Cpu.Edi, eflags)
        {
            Rax = Bitness == 64 ? Cpu[X86Cpu.RAX] : Cpu.Eax,
        };
        GateReturn();
    }

    /// <summary>Writes bytes as a kernel-mode store through DS would (segmentation and paging checks apply).</summary>
    internal void WriteKernelBytes(ulong address, ReadOnlySpan<byte> bytes)
    {
        for (int i = 0; i < bytes.Length; i++)
            Cpu.WriteLinear(Cpu.LinearAddress(X86Cpu.DS, address + (ulong)i, 1, AccessKind.Write), 1, bytes[i], user: false);
    }

    /// <summary>
    /// Writes assembled code as the code running now would store it: at CPL 3, user-mode stores
    /// (only user text is reachable); at CPL 0, kernel stores, except that a copy to a user page
    /// while CR4.SMAP is on and EFLAGS.AC is clear is done as a kernel does it, by a guest
    /// STAC; REP MOVSB; CLAC from a kernel staging buffer (SDM vol. 3, 4.6.1: SMAP lets
    /// explicit supervisor accesses reach user pages only with EFLAGS.AC = 1).
    /// </summary>
    private void WriteCode(ulong address, ReadOnlySpan<byte> bytes)
    {
        if (InUserMode)
        {
            for (int i = 0; i < bytes.Length; i++)
                Cpu.WriteLogical(X86Cpu.DS, address + (ulong)i, 1, bytes[i]);
            return;
        }

        bool userPage = address >= HvmLayout.UserText && address < HvmLayout.UserStackTop;
        if (!userPage || (Cpu.Cr4Value & Cr4.SMAP) == 0 || (Cpu.Eflags & RFlags.AC) != 0)
        {
            WriteKernelBytes(address, bytes);
            return;
        }

        for (int offset = 0; offset < bytes.Length; offset += HvmLayout.CodeStagingSize)
        {
            int n = Math.Min(HvmLayout.CodeStagingSize, bytes.Length - offset);
            WriteKernelBytes(HvmLayout.CodeStaging, bytes.Slice(offset, n));
            ulong to = address + (ulong)offset;
            Exec(a =>
            {
                a.stac();
                a.mov(esi, (uint)HvmLayout.CodeStaging);
                a.mov(edi, (uint)to);
                a.mov(ecx, (uint)n);
                a.rep.movsb();
                a.clac();
            }, ExecFaults.Unhandled);
        }
    }
}
