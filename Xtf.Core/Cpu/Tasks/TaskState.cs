namespace Xtf.Core.Cpu.Tasks;

/// <summary>Field offsets of the 32-bit TSS (SDM vol. 3, 7.2.1, figure 7-2).</summary>
public static class Tss32
{
    /// <summary>Byte offsets: previous task link (selector), ESP0 and SS0 (ring-0 stack for privilege changes), CR3 (PDBR), EIP and EFLAGS.</summary>
    public const uint BackLink = 0x00, Esp0 = 0x04, Ss0 = 0x08, Cr3 = 0x1C, Eip = 0x20, Eflags = 0x24;

    /// <summary>EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI: 4 bytes each from here, in register-number order.</summary>
    public const uint Gprs = 0x28;

    /// <summary>ES, CS, SS, DS, FS, GS: one 4-byte slot each (selector in the low word) from here.</summary>
    public const uint Selectors = 0x48;

    /// <summary>Byte offsets: LDT segment selector, the T (debug trap) flag in bit 0 of the word at 0x64, and the 16-bit I/O map base address.</summary>
    public const uint Ldt = 0x60, Trap = 0x64, IoMapBase = 0x66;

    /// <summary>SDM vol. 3, table 7-1: a 32-bit TSS needs a limit of at least 0x67 (104 bytes).</summary>
    public const uint MinimumLimit = 0x67;
}

/// <summary>
/// Field offsets of the 64-bit TSS of IA-32e mode (SDM vol. 3, 7.7, figure 7-11). It holds no
/// task state, only stack pointers: RSPn for a privilege change to ring n, and the seven
/// Interrupt Stack Table pointers IST1-IST7, 8 bytes each (ISTn at 0x1C + 8n).
/// </summary>
public static class Tss64
{
    /// <summary>Byte offsets: RSP0-RSP2 (stack pointers for a privilege change to ring 0-2), IST1 (the first IST slot), and the 16-bit I/O map base address.</summary>
    public const uint Rsp0 = 0x04, Rsp1 = 0x0C, Rsp2 = 0x14, Ist1 = 0x24, IoMapBase = 0x66;

    /// <summary>A 64-bit TSS needs a limit of at least 0x67 (104 bytes) to hold its I/O map base.</summary>
    public const uint MinimumLimit = 0x67;

    /// <summary>Offset of RSPn for privilege level <paramref name="cpl"/> (0-2).</summary>
    public static uint Rsp(int cpl) => Rsp0 + (8u * (uint)cpl);

    /// <summary>Offset of ISTn, <paramref name="ist"/> 1-7.</summary>
    public static uint Ist(int ist) => Ist1 + (8u * (uint)(ist - 1));
}

/// <summary>Field offsets of the 16-bit TSS (SDM vol. 3, 7.6, figure 7-10).</summary>
public static class Tss16
{
    /// <summary>Byte offsets: previous task link, SP0 and SS0 (ring-0 stack), IP and FLAGS.</summary>
    public const uint BackLink = 0x00, Sp0 = 0x02, Ss0 = 0x04, Ip = 0x0E, Flags = 0x10;

    /// <summary>AX, CX, DX, BX, SP, BP, SI, DI: 2 bytes each from here.</summary>
    public const uint Gprs = 0x12;

    /// <summary>ES, CS, SS, DS: 2 bytes each from here (a 16-bit TSS has no FS or GS).</summary>
    public const uint Selectors = 0x22;

    /// <summary>Byte offset of the LDT segment selector.</summary>
    public const uint Ldt = 0x2A;

    /// <summary>SDM vol. 3, table 7-1: a 16-bit TSS needs a limit of at least 0x2B (44 bytes).</summary>
    public const uint MinimumLimit = 0x2B;
}

/// <summary>
/// The state a task switch loads from the incoming TSS (SDM vol. 3, 7.3 step 11), read in full
/// before anything is committed. The TSS orders its selector slots ES, CS, SS, DS, FS, GS, as
/// <see cref="X86Cpu.Segments"/> numbers the segment registers.
/// </summary>
internal sealed class TaskState
{
    public bool Is32;
    public uint Eip, Eflags, Cr3;
    public readonly uint[] Gprs = new uint[8];
    public readonly ushort[] Selectors = new ushort[6];
    public ushort Ldt;

    /// <summary>The T flag (32-bit TSS offset 0x64, bit 0): debug trap on entry to the task.</summary>
    public bool Trap;
}
