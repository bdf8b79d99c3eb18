using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Testing.Conformance.Native;

namespace Xtf.Tests.Conformance;

/// <summary>
/// The native oracle's host side on hand-computed cases (no emulator involved): registers and
/// arithmetic flags go in and come back, the snippet's result is the architecture's (SDM vol. 2
/// ADD/ADC), and untouched registers are returned unchanged.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class HostProcessorTests
{
    private HostProcessor? host;

    [OneTimeSetUp]
    public void Map()
    {
        host = HostProcessor.TryCreate(out string? reason);
        if (host is null)
            Assert.Ignore($"native oracle unavailable: {reason}");
    }

    [OneTimeTearDown]
    public void Unmap() => host?.Dispose();

    [Test(Description = "ADD RAX, RBX of -1 and 1: RAX = 0 with CF, PF, AF, ZF set and SF, OF clear; the other registers as given")]
    public void AddWrapsToZero()
    {
        var initial = Distinct();
        initial.Gpr[X86Cpu.RAX] = ulong.MaxValue;
        initial.Gpr[X86Cpu.RBX] = 1;
        initial.Rflags = RFlags.Reserved1 | RFlags.SF | RFlags.OF;
        var result = host!.Run([0x48, 0x01, 0xD8], initial); // add rax, rbx
        Assert.Multiple(() =>
        {
            Assert.That(result.Gpr[X86Cpu.RAX], Is.Zero);
            Assert.That(result.Rflags & RFlags.Status, Is.EqualTo(RFlags.CF | RFlags.PF | RFlags.AF | RFlags.ZF));
            for (int r = 1; r < OracleState.Count; r++)
                Assert.That(result.Gpr[r], Is.EqualTo(r == X86Cpu.RSP ? 0ul : initial.Gpr[r]), OracleState.Name(r));
        });
    }

    [Test(Description = "ADC RCX, 0 with CF = 1 from the state block adds the carry; an empty snippet returns every flag given")]
    public void FlagsAreLoadedFromTheBlock()
    {
        var initial = Distinct();
        initial.Rflags = RFlags.Reserved1 | RFlags.CF;
        var adc = host!.Run([0x48, 0x83, 0xD1, 0x00], initial); // adc rcx, 0
        initial.Rflags = RFlags.Reserved1 | RFlags.Status;
        var nothing = host.Run([], initial);
        Assert.Multiple(() =>
        {
            Assert.That(adc.Gpr[X86Cpu.RCX], Is.EqualTo(initial.Gpr[X86Cpu.RCX] + 1));
            Assert.That(nothing.Rflags & (RFlags.Status | RFlags.DF), Is.EqualTo(RFlags.Status));
            Assert.That(nothing.Gpr, Is.EqualTo(initial.Gpr.Select((v, r) => r == X86Cpu.RSP ? 0ul : v).ToArray()));
        });
    }

    private static OracleState Distinct()
    {
        var file = new OracleState();
        for (int r = 0; r < OracleState.Count; r++)
            file.Gpr[r] = 0x1111_1111_1111_1111ul * (ulong)(r + 1);
        return file;
    }
}
