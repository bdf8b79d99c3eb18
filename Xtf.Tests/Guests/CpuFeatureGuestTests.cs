using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Testing;

namespace Xtf.Tests.Guests;

/// <summary>
/// CpuHas (XTF's cpu_has) reads the flags where the SDM puts them (vol. 2, CPUID): each feature is
/// checked against the raw CPUID bit the guest reads itself.
/// </summary>
[TestFixture]
public sealed class CpuFeatureGuestTests
{
    public sealed class FeatureGuest : TestCase
    {
        public override void Main()
        {
            (CpuFeature Feature, uint Leaf, uint Subleaf, char Register, int Bit)[] table =
            [
                (CpuFeature.Pse, 1, 0, 'd', 3), (CpuFeature.Pae, 1, 0, 'd', 6), (CpuFeature.Sep, 1, 0, 'd', 11),
                (CpuFeature.Pge, 1, 0, 'd', 13), (CpuFeature.Hypervisor, 1, 0, 'c', 31),
                (CpuFeature.Syscall, 0x80000001, 0, 'd', 11), (CpuFeature.Nx, 0x80000001, 0, 'd', 20),
                (CpuFeature.Page1Gb, 0x80000001, 0, 'd', 26), (CpuFeature.Lm, 0x80000001, 0, 'd', 29),
                (CpuFeature.Fsgsbase, 7, 0, 'b', 0), (CpuFeature.Smep, 7, 0, 'b', 7), (CpuFeature.Smap, 7, 0, 'b', 20),
            ];
            foreach (var (feature, leaf, subleaf, register, bit) in table)
            {
                var r = Cpuid(leaf, subleaf);
                uint value = register switch { 'b' => r.Ebx, 'c' => r.Ecx, _ => r.Edx };
                if (CpuHas(feature) != ((value >> bit) & 1) is 1)
                    Failure($"Fail: cpu_has({feature}) disagrees with CPUID {leaf:x}:{register} bit {bit}\n");
            }

            if (!CpuHas(CpuFeature.Pae) || !CpuHas(CpuFeature.Lm))
                Failure("Fail: the CPU runs PAE and long-mode guests but does not report them\n");
            Success();
        }
    }

    [Test]
    public void CpuHasMatchesTheCpuidBits()
    {
        var o = GuestHarness.Run<FeatureGuest>(env: Environments.Hvm32);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
    }
}
