using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Core.Guest;

public abstract partial class TestCase
{
    /// <summary>
    /// XTF's rdmsr_safe: RDMSR executed in the guest at the current CPL; false (and 0) if it
    /// faulted. (XTF's function returns the opposite: true when the access faulted.)
    /// </summary>
    protected bool TryRdmsr(uint index, out ulong value)
    {
        var r = ExecDetailed(a =>
        {
            a.mov(ecx, index);
            a.xor(eax, eax);
            a.xor(edx, edx);
            a.rdmsr();
        });
        value = r.Fault == ExInfo.None ? ((ulong)r.Edx << 32) | r.Eax : 0;
        return r.Fault == ExInfo.None;
    }

    /// <summary>XTF's wrmsr_safe: WRMSR executed in the guest; false if it faulted.</summary>
    protected bool TryWrmsr(uint index, ulong value) => Exec(a =>
    {
        a.mov(ecx, index);
        a.mov(eax, (uint)value);
        a.mov(edx, (uint)(value >> 32));
        a.wrmsr();
    }) == ExInfo.None;
}
