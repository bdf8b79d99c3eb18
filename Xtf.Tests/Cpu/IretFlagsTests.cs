using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Core.Cpu.RFlags;

namespace Xtf.Tests.Cpu;

/// <summary>Which EFLAGS bits IRET loads from its frame (SDM vol. 2, IRET pseudo-code).</summary>
[TestFixture]
public sealed class IretFlagsTests
{
    /// <summary>Builds an IRET frame (EFLAGS | <paramref name="extra"/>, CS, EIP of a HLT) and returns through it.</summary>
    private static CpuHarness IretWithFlags(uint extra)
    {
        var h = new CpuHarness();
        var stop = h.Run(a =>
        {
            var iret = a.CreateLabel();
            a.pushfd();
            a.or(__dword_ptr[esp], (int)extra);
            a.push(CpuHarness.KernelCode);
            a.call(iret); // pushes the EIP of the HLT below
            a.hlt();
            a.Label(ref iret);
            a.iretd();
        });
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        return h;
    }

    [TestCase(TestName = "IRETD at CPL 0 to the same level loads VIF and VIP from the frame")]
    public void IretdAtCpl0LoadsVifVip() =>
        Assert.That(IretWithFlags(VIF | VIP).Cpu.Eflags & (VIF | VIP), Is.EqualTo(VIF | VIP));
}
