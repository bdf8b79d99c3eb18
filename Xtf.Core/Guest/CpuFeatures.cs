using Xtf.Core.Cpu;

namespace Xtf.Core.Guest;

/// <summary>
/// CPUID feature flags, numbered as XTF numbers them (arch/x86/include/arch/cpuid.h and Xen's
/// cpufeatureset.h): word * 32 + bit, where word 0 is CPUID.1:EDX, 1 is CPUID.1:ECX, 2 is
/// CPUID.80000001H:EDX, 3 is CPUID.80000001H:ECX, 5 is CPUID.(7,0):EBX, 6 is CPUID.(7,0):ECX.
/// </summary>
public enum CpuFeature
{
    Fpu = 0, Vme = 1, De = 2, Pse = 3, Tsc = 4, Msr = 5, Pae = 6, Cx8 = 8, Apic = 9, Sep = 11, Pge = 13, Cmov = 15,
    Pse36 = 17, Clflush = 19, Mmx = 23, Fxsr = 24, Sse = 25, Sse2 = 26,
    Sse3 = 32 + 0, Pcid = 32 + 17, Xsave = 32 + 26, Avx = 32 + 28, Hypervisor = 32 + 31,
    Syscall = 64 + 11, Nx = 64 + 20, Page1Gb = 64 + 26, Rdtscp = 64 + 27, Lm = 64 + 29,
    LahfLm = 96 + 0, Svm = 96 + 2,
    Fsgsbase = 160 + 0, Smep = 160 + 7, Smap = 160 + 20,
    Umip = 192 + 2,
}

/// <summary>XTF's collect_cpuid and cpu_has(): the feature words, read once by CPUID in the guest.</summary>
public sealed class CpuFeatures
{
    private readonly uint[] words = new uint[7];

    /// <summary>Collects the words with <paramref name="cpuid"/> (leaf, subleaf), honouring the maximum basic and extended leaves.</summary>
    public CpuFeatures(Func<uint, uint, CpuidResult> cpuid)
    {
        uint maxBasic = cpuid(0, 0).Eax;
        uint maxExtended = cpuid(0x80000000, 0).Eax;
        if (maxBasic >= 1)
            (words[1], words[0]) = (cpuid(1, 0).Ecx, cpuid(1, 0).Edx);
        if (maxExtended >= 0x80000001)
            (words[3], words[2]) = (cpuid(0x80000001, 0).Ecx, cpuid(0x80000001, 0).Edx);
        if (maxBasic >= 7)
            (words[5], words[6]) = (cpuid(7, 0).Ebx, cpuid(7, 0).Ecx);
    }

    public bool Has(CpuFeature feature) => (words[(int)feature / 32] & (1u << ((int)feature % 32))) != 0;
}
