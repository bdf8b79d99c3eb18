using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Xen.Emulation;

/// <summary>
/// The emulator's instruction fetch (Xen's hvmemul_insn_fetch): bytes at CS:IP read through the
/// guest's segmentation and page tables, as an instruction fetch at the guest's CPL; with an
/// <see cref="IAccessAgent"/> attached (HVM), through the agent's segmentation and walk. Outside
/// 64-bit mode every byte must lie within the CS limit (#GP(0)); a byte whose page does not allow
/// the fetch raises #PF for that byte's address. Only the bytes the decoder asks for are fetched.
/// </summary>
internal sealed class InstructionFetch : CodeReader
{
    private readonly X86Cpu cpu;
    private ulong offset;
    private int count;

    public InstructionFetch(X86Cpu cpu) => this.cpu = cpu;

    /// <summary>The fault that stopped the fetch, if any.</summary>
    public CpuFault? Fault { get; private set; }

    /// <summary>The offset mask applied to IP while fetching (the code size); all ones means none.</summary>
    public ulong IpMask { get; private set; } = ulong.MaxValue;

    /// <summary>Starts a fetch at <paramref name="ip"/>, with <paramref name="ipMask"/> applied to each byte's IP.</summary>
    public void Reset(ulong ip, ulong ipMask = ulong.MaxValue)
    {
        IpMask = ipMask;
        offset = ip;
        count = 0;
        Fault = null;
    }

    public override int ReadByte()
    {
        if (count >= 15 || Fault is not null)
            return -1;
        try
        {
            ulong ip = (offset + (ulong)count) & IpMask;
            var cs = cpu.Segments[X86Cpu.CS];
            ulong linear;
            if (cpu.AccessAgent is { } agent)
            {
                // The HVM emulator's fetch: Xen's segmentation for hvm_access_insn_fetch.
                linear = agent.Linear(X86Cpu.CS, ip, 1, AccessKind.Execute);
            }
            else if (cpu.Bitness == 64)
            {
                linear = ip;
            }
            else
            {
                // SDM vol. 3, 5.3: the fetch is checked against the CS limit byte by byte.
                if (ip > cs.Limit)
                    throw CpuFault.GP(0);
                linear = (cs.Base + ip) & 0xFFFFFFFF;
            }

            ulong physical = cpu.Translate(linear, AccessKind.Execute, cpu.Cpl == 3);
            count++;
            return (int)cpu.ReadPhysical(physical, 1);
        }
        catch (CpuFault fault)
        {
            Fault = fault;
            return -1;
        }
    }
}
