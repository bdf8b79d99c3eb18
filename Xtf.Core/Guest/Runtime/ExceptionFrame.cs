using Xtf.Core.Cpu;

namespace Xtf.Core.Guest.Runtime;

/// <summary>
/// XTF's struct cpu_regs as the hvm32 entry path saves it on the kernel stack: ES, DS, the
/// PUSHAD block, entry vector, error code, then the CPU's frame (EIP, CS, EFLAGS, and ESP, SS
/// when the exception came from an outer ring). Reads and writes are kernel-mode guest
/// accesses; changes take effect when the entry path restores the registers and IRETs.
/// </summary>
public sealed class ExceptionFrame
{
    private const int OffEdi = 8, OffEsi = 12, OffEbp = 16, OffEbx = 24, OffEdx = 28, OffEcx = 32, OffEax = 36;
    private const int OffVector = 40, OffError = 44, OffEip = 48, OffCs = 52, OffEflags = 56, OffEsp = 60, OffSs = 64;

    private readonly X86Cpu cpu;
    private readonly ulong address;

    internal ExceptionFrame(X86Cpu cpu, ulong address)
    {
        this.cpu = cpu;
        this.address = address;
    }

    private uint Get(int offset) => (uint)cpu.ReadLogical(X86Cpu.SS, address + (ulong)offset, 4);

    private void Set(int offset, uint value) => cpu.WriteLogical(X86Cpu.SS, address + (ulong)offset, 4, value);

    public int Vector => (int)Get(OffVector);

    public uint ErrorCode => Get(OffError);

    public uint Eip { get => Get(OffEip); set => Set(OffEip, value); }

    public ushort Cs => (ushort)Get(OffCs);

    public uint Eflags { get => Get(OffEflags); set => Set(OffEflags, value); }

    public uint Eax { get => Get(OffEax); set => Set(OffEax, value); }

    public uint Ebx { get => Get(OffEbx); set => Set(OffEbx, value); }

    public uint Ecx { get => Get(OffEcx); set => Set(OffEcx, value); }

    public uint Edx { get => Get(OffEdx); set => Set(OffEdx, value); }

    public uint Esi { get => Get(OffEsi); set => Set(OffEsi, value); }

    public uint Edi { get => Get(OffEdi); set => Set(OffEdi, value); }

    public uint Ebp { get => Get(OffEbp); set => Set(OffEbp, value); }

    /// <summary>True if the exception came from an outer ring (the frame holds ESP and SS).</summary>
    public bool FromOuterRing => (Cs & 3) != cpu.Cpl;

    public uint Esp => FromOuterRing ? Get(OffEsp) : (uint)(address + OffEsp);

    public ushort Ss => FromOuterRing ? (ushort)Get(OffSs) : cpu.Segments[X86Cpu.SS].Selector;

    /// <summary>The exception as XTF's exinfo: vector and error code.</summary>
    public ExInfo ExInfo => ExInfo.Fault(Vector, ErrorCode);
}
