using System.Runtime.InteropServices;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Core.Testing.Conformance.Native;

/// <summary>
/// The processor this process runs on, as a referee: runs snippet bytes in 64-bit user mode,
/// in-process, from a <see cref="OracleState"/>. Code lives in one page mapped with libc mmap
/// (PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS); a trampoline assembled with
/// Iced around the snippet is called through an unmanaged function pointer (SysV x86-64 ABI:
/// the state block's address in RDI; RBX, RBP, R12-R15 and RSP preserved). The snippet must
/// not touch RSP, the stack or memory, and must not fault: <see cref="SnippetGuard"/> checks.
/// Not thread-safe: one instance per thread.
/// </summary>
public sealed unsafe partial class HostProcessor : IDisposable
{
    private const int PageSize = 4096, BlockOffset = 3072, MaxCode = BlockOffset;
    private const int ProtReadWriteExec = 0x1 | 0x2 | 0x4, MapPrivate = 0x02, MapAnonymous = 0x20;
    private const int FlagsSlot = OracleState.Count, RspSlot = OracleState.Count + 1;

    // CF PF AF ZF SF OF and DF (SDM vol. 1, 3.4.3): what the trampoline loads from the block.
    private const uint LoadedFlags = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x800 | 0x400;

    private nint page;

    private HostProcessor(nint page) => this.page = page;

    /// <summary>Why the host cannot referee here, or null when it can.</summary>
    public static string? Unavailable =>
        RuntimeInformation.ProcessArchitecture != Architecture.X64 ? $"the host processor is {RuntimeInformation.ProcessArchitecture}, not x86-64"
        : !OperatingSystem.IsLinux() ? "the native oracle runs on x86-64 Linux only (SysV ABI, libc mmap)"
        : null;

    /// <summary>Maps the code page; null with <paramref name="reason"/> when the host cannot referee or mmap fails.</summary>
    public static HostProcessor? TryCreate(out string? reason)
    {
        reason = Unavailable;
        if (reason is not null)
            return null;
        nint p = Mmap(0, PageSize, ProtReadWriteExec, MapPrivate | MapAnonymous, -1, 0);
        if (p == -1 || p == 0)
        {
            reason = $"mmap of an executable page failed (errno {Marshal.GetLastPInvokeError()})";
            return null;
        }

        return new HostProcessor(p);
    }

    /// <summary>Runs <paramref name="snippet"/> from <paramref name="initial"/> and returns the state it ends in.</summary>
    public OracleState Run(ReadOnlySpan<byte> snippet, OracleState initial)
    {
        ObjectDisposedException.ThrowIf(page == 0, this);
        byte[] code = Trampoline(snippet.ToArray(), (ulong)page);
        if (code.Length > MaxCode)
            throw new ArgumentException($"snippet of {snippet.Length} bytes does not fit the code page", nameof(snippet));
        code.CopyTo(new Span<byte>((void*)page, code.Length));

        var block = new Span<ulong>((void*)(page + BlockOffset), OracleState.Count + 2);
        initial.Gpr.CopyTo(block);
        block[FlagsSlot] = initial.Rflags & LoadedFlags & ~0x400ul;
        ((delegate* unmanaged<nint, void>)page)(page + BlockOffset);

        var result = new OracleState { Rflags = block[FlagsSlot] };
        block[..OracleState.Count].CopyTo(result.Gpr);
        result.Gpr[Cpu.X86Cpu.RSP] = block[Cpu.X86Cpu.RSP] == block[RspSlot] ? 0ul : 1ul;
        return result;
    }

    /// <summary>Unmaps the code page.</summary>
    public void Dispose()
    {
        if (page != 0)
            _ = Munmap(page, PageSize);
        page = 0;
    }

    /// <summary>
    /// Save callee-saved registers and the block pointer; record RSP; load RFLAGS (POPFQ at CPL 3
    /// changes only the flags it may, SDM vol. 2 POPF) with the arithmetic flags from the block and
    /// DF clear; load the GPRs, RDI last; run the snippet; store GPRs, RSP and RFLAGS; restore; return.
    /// </summary>
    private static byte[] Trampoline(byte[] snippet, ulong address)
    {
        var a = new Assembler(64);
        AssemblerRegister64[] saved = [rbx, rbp, r12, r13, r14, r15];
        AssemblerRegister64[] gprs = [rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15];
        foreach (var r in saved)
            a.push(r);
        a.push(rdi);
        a.mov(__[rdi + (8 * RspSlot)], rsp);
        a.pushfq();
        a.pop(rax);
        a.and(rax, ~(int)LoadedFlags);
        a.or(rax, __[rdi + (8 * FlagsSlot)]);
        a.push(rax);
        a.popfq();
        for (int r = 0; r < gprs.Length; r++)
        {
            if (r is not (Cpu.X86Cpu.RSP or Cpu.X86Cpu.RDI))
                a.mov(gprs[r], __[rdi + (8 * r)]);
        }

        a.mov(rdi, __[rdi + (8 * Cpu.X86Cpu.RDI)]);
        a.db(snippet);
        a.pushfq();
        a.push(rax);
        a.mov(rax, __[rsp + 16]);
        for (int r = 1; r < gprs.Length; r++)
        {
            if (r != Cpu.X86Cpu.RSP)
                a.mov(__[rax + (8 * r)], gprs[r]);
        }

        a.lea(rcx, __[rsp + 16]);
        a.mov(__[rax + (8 * Cpu.X86Cpu.RSP)], rcx);
        a.pop(rcx);
        a.mov(__[rax], rcx);
        a.pop(rcx);
        a.mov(__[rax + (8 * FlagsSlot)], rcx);
        a.pop(rdi);
        for (int i = saved.Length - 1; i >= 0; i--)
            a.pop(saved[i]);
        a.ret();
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), address);
        return stream.ToArray();
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint address, nuint length);
}
