using Xtf.Core.Cpu;

namespace Xtf.Core.Guest.Runtime;

/// <summary>
/// XTF's struct cpu_regs as the entry path saves it on the kernel stack. In the 32-bit
/// environments: ES, DS, the PUSHAD block, entry vector, error code, then the CPU's frame (EIP,
/// CS, EFLAGS, and ESP, SS when the exception came from an outer ring). In hvm64 (XTF's
/// arch/x86/include/arch/regs.h for __x86_64__): R15 to R12, RBP, RBX, R11 to R8, RAX, RCX, RDX,
/// RSI, RDI, the error code with the entry vector in its upper half, then the CPU's frame (RIP,
/// CS, RFLAGS, RSP, SS, always pushed in IA-32e mode). Reads and writes are kernel-mode guest
/// accesses; changes take effect when the entry path restores the registers and IRETs. The
/// 32-bit views (<see cref="Eip"/>, <see cref="Eax"/>...) read and write the low half, as XTF's
/// register unions do; the 64-bit views read and write the whole slot.
/// </summary>
public sealed class ExceptionFrame
{
    private readonly X86Cpu cpu;
    private readonly ulong address;
    private readonly Layout layout;

    internal ExceptionFrame(X86Cpu cpu, ulong address, bool longMode = false)
    {
        this.cpu = cpu;
        this.address = address;
        layout = longMode ? Layout.LongMode : Layout.Protected;
    }

    /// <summary>Offsets of the fields; -1 where the layout has none.</summary>
    private sealed record Layout(int SlotSize, int Rax, int Rbx, int Rcx, int Rdx, int Rsi, int Rdi, int Rbp, int R8,
        int Vector, int Error, int Rip, int Cs, int Rflags, int Rsp, int Ss)
    {
        public static readonly Layout Protected = new(4, 36, 24, 32, 28, 12, 8, 16, -1, 40, 44, 48, 52, 56, 60, 64);

        /// <summary>R8 is at 72; R9, R10, R11 below it at 64, 56, 48; R12 to R15 at 24, 16, 8, 0.</summary>
        public static readonly Layout LongMode = new(8, 80, 40, 88, 96, 104, 112, 32, 72, 124, 120, 128, 136, 144, 152, 160);
    }

    /// <summary>True for the hvm64 layout.</summary>
    public bool Is64Bit => layout.SlotSize == 8;

    /// <summary>
    /// The SS offset of a field: the regs pointer plus the field's offset, truncated to the
    /// stack-address size as the entry stub's own <c>mov off(%esp)</c> would be (SDM vol. 1, 3.3.6:
    /// a 32-bit effective address wraps modulo 2^32), so a frame pushed across 4 GiB reads back
    /// where the CPU wrote it. A field that straddles the limit still faults (the runtime panics).
    /// </summary>
    private ulong Offset(int offset) => (address + (ulong)offset) & X86Cpu.SizeMask(cpu.StackAddressSize);

    private ulong Get(int offset, int size) => cpu.ReadLogical(X86Cpu.SS, Offset(offset), size);

    private void Set(int offset, int size, ulong value) => cpu.WriteLogical(X86Cpu.SS, Offset(offset), size, value);

    private uint Get32(int offset) => (uint)Get(offset, 4);

    private void Set32(int offset, uint value) => Set(offset, 4, value);

    private ulong GetSlot(int offset) => Get(offset, layout.SlotSize);

    private void SetSlot(int offset, ulong value) => Set(offset, layout.SlotSize, value);

    /// <summary>XTF's entry_vector: the vector the entry stub pushed (read-only).</summary>
    public int Vector => (int)Get32(layout.Vector);

    /// <summary>XTF's error_code: the CPU's error code, or the 0 the stub pushed for vectors without one (read-only).</summary>
    public uint ErrorCode => Get32(layout.Error);

    /// <summary>The saved EIP (low 32 bits of the RIP slot); writing it changes where IRET resumes.</summary>
    public uint Eip { get => Get32(layout.Rip); set => Set32(layout.Rip, value); }

    /// <summary>The saved instruction pointer, as wide as the environment's (EIP zero-extended in 32-bit frames).</summary>
    public ulong Rip { get => GetSlot(layout.Rip); set => SetSlot(layout.Rip, value); }

    /// <summary>The saved CS selector; its RPL is the interrupted CPL.</summary>
    public ushort Cs => (ushort)Get(layout.Cs, 2);

    /// <summary>The saved EFLAGS (low 32 bits of the RFLAGS slot); IRET loads it subject to its CPL/IOPL rules.</summary>
    public uint Eflags { get => Get32(layout.Rflags); set => Set32(layout.Rflags, value); }

    /// <summary>The saved RFLAGS, as wide as the environment's slot.</summary>
    public ulong Rflags { get => GetSlot(layout.Rflags); set => SetSlot(layout.Rflags, value); }

    /// <summary>Saved EAX (low 32 bits of the slot).</summary>
    public uint Eax { get => Get32(layout.Rax); set => Set32(layout.Rax, value); }

    /// <summary>Saved EBX (low 32 bits of the slot).</summary>
    public uint Ebx { get => Get32(layout.Rbx); set => Set32(layout.Rbx, value); }

    /// <summary>Saved ECX (low 32 bits of the slot).</summary>
    public uint Ecx { get => Get32(layout.Rcx); set => Set32(layout.Rcx, value); }

    /// <summary>Saved EDX (low 32 bits of the slot).</summary>
    public uint Edx { get => Get32(layout.Rdx); set => Set32(layout.Rdx, value); }

    /// <summary>Saved ESI (low 32 bits of the slot).</summary>
    public uint Esi { get => Get32(layout.Rsi); set => Set32(layout.Rsi, value); }

    /// <summary>Saved EDI (low 32 bits of the slot).</summary>
    public uint Edi { get => Get32(layout.Rdi); set => Set32(layout.Rdi, value); }

    /// <summary>Saved EBP (low 32 bits of the slot).</summary>
    public uint Ebp { get => Get32(layout.Rbp); set => Set32(layout.Rbp, value); }

    /// <summary>Saved RAX (the whole slot: 4 bytes in 32-bit frames, 8 in hvm64).</summary>
    public ulong Rax { get => GetSlot(layout.Rax); set => SetSlot(layout.Rax, value); }

    /// <summary>Saved RBX (the whole slot).</summary>
    public ulong Rbx { get => GetSlot(layout.Rbx); set => SetSlot(layout.Rbx, value); }

    /// <summary>Saved RCX (the whole slot).</summary>
    public ulong Rcx { get => GetSlot(layout.Rcx); set => SetSlot(layout.Rcx, value); }

    /// <summary>Saved RDX (the whole slot).</summary>
    public ulong Rdx { get => GetSlot(layout.Rdx); set => SetSlot(layout.Rdx, value); }

    /// <summary>Saved RSI (the whole slot).</summary>
    public ulong Rsi { get => GetSlot(layout.Rsi); set => SetSlot(layout.Rsi, value); }

    /// <summary>Saved RDI (the whole slot).</summary>
    public ulong Rdi { get => GetSlot(layout.Rdi); set => SetSlot(layout.Rdi, value); }

    /// <summary>Saved RBP (the whole slot).</summary>
    public ulong Rbp { get => GetSlot(layout.Rbp); set => SetSlot(layout.Rbp, value); }

    /// <summary>R8 to R15 of an hvm64 frame (<paramref name="n"/> = 8..15).</summary>
    public ulong R(int n)
    {
        if (!Is64Bit || n is < 8 or > 15)
            throw new ArgumentOutOfRangeException(nameof(n), "R8-R15 exist in hvm64 frames only");
        return Get(RSlot(n), 8);
    }

    /// <summary>Writes R8 to R15 of an hvm64 frame (<paramref name="n"/> = 8..15); throws <see cref="ArgumentOutOfRangeException"/> otherwise.</summary>
    public void SetR(int n, ulong value)
    {
        _ = R(n);
        Set(RSlot(n), 8, value);
    }

    /// <summary>R8..R11 go down from R8's slot, R12..R15 down from R12's (24).</summary>
    private int RSlot(int n) => n <= 11 ? layout.R8 - (8 * (n - 8)) : 24 - (8 * (n - 12));

    /// <summary>True if the exception came from an outer ring (in 32-bit frames, the frame holds ESP and SS only then).</summary>
    public bool FromOuterRing => (Cs & 3) != cpu.Cpl;

    /// <summary>Low 32 bits of <see cref="Rsp"/>.</summary>
    public uint Esp => (uint)Rsp;

    /// <summary>The interrupted stack pointer: from the frame when the CPU pushed it, else just above the frame.</summary>
    public ulong Rsp => Is64Bit || FromOuterRing ? GetSlot(layout.Rsp) : Offset(layout.Rsp);

    /// <summary>The interrupted SS: from the frame when the CPU pushed it (hvm64, or entry from an outer ring), else the current SS.</summary>
    public ushort Ss => Is64Bit || FromOuterRing ? (ushort)Get(layout.Ss, 2) : cpu.Segments[X86Cpu.SS].Selector;

    /// <summary>The exception as XTF's exinfo: vector and error code.</summary>
    public ExInfo ExInfo => ExInfo.Fault(Vector, ErrorCode);
}
