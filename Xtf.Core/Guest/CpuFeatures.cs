using Xtf.Core.Cpu;

namespace Xtf.Core.Guest;

/// <summary>
/// CPUID feature flags, numbered as XTF numbers them (arch/x86/include/arch/cpuid.h and Xen's
/// cpufeatureset.h): word * 32 + bit, where word 0 is CPUID.1:EDX, 1 is CPUID.1:ECX, 2 is
/// CPUID.80000001H:EDX, 3 is CPUID.80000001H:ECX, 5 is CPUID.(7,0):EBX, 6 is CPUID.(7,0):ECX.
/// </summary>
public enum CpuFeature
{
    /// <summary>CPUID.1:EDX[0] FPU: x87 on chip.</summary>
    Fpu = 0,

    /// <summary>CPUID.1:EDX[1] VME: virtual-8086 mode extensions (CR4.VME/PVI).</summary>
    Vme = 1,

    /// <summary>CPUID.1:EDX[2] DE: debugging extensions (CR4.DE).</summary>
    De = 2,

    /// <summary>CPUID.1:EDX[3] PSE: 4 MiB pages (CR4.PSE).</summary>
    Pse = 3,

    /// <summary>CPUID.1:EDX[4] TSC: RDTSC and CR4.TSD.</summary>
    Tsc = 4,

    /// <summary>CPUID.1:EDX[5] MSR: RDMSR/WRMSR.</summary>
    Msr = 5,

    /// <summary>CPUID.1:EDX[6] PAE: physical address extension.</summary>
    Pae = 6,

    /// <summary>CPUID.1:EDX[8] CX8: CMPXCHG8B.</summary>
    Cx8 = 8,

    /// <summary>CPUID.1:EDX[9] APIC: on-chip local APIC.</summary>
    Apic = 9,

    /// <summary>CPUID.1:EDX[11] SEP: SYSENTER/SYSEXIT.</summary>
    Sep = 11,

    /// <summary>CPUID.1:EDX[13] PGE: global pages (CR4.PGE).</summary>
    Pge = 13,

    /// <summary>CPUID.1:EDX[15] CMOV: CMOVcc and FCMOVcc.</summary>
    Cmov = 15,

    /// <summary>CPUID.1:EDX[17] PSE-36: physical address bits above 4 GiB in 4 MiB PDEs.</summary>
    Pse36 = 17,

    /// <summary>CPUID.1:EDX[19] CLFSH: CLFLUSH.</summary>
    Clflush = 19,

    /// <summary>CPUID.1:EDX[23] MMX.</summary>
    Mmx = 23,

    /// <summary>CPUID.1:EDX[24] FXSR: FXSAVE/FXRSTOR and CR4.OSFXSR.</summary>
    Fxsr = 24,

    /// <summary>CPUID.1:EDX[25] SSE.</summary>
    Sse = 25,

    /// <summary>CPUID.1:EDX[26] SSE2.</summary>
    Sse2 = 26,

    /// <summary>CPUID.1:ECX[0] SSE3.</summary>
    Sse3 = 32 + 0,

    /// <summary>CPUID.1:ECX[17] PCID: process-context identifiers (CR4.PCIDE).</summary>
    Pcid = 32 + 17,

    /// <summary>CPUID.1:ECX[21] x2APIC: the local APIC's x2APIC mode (IA32_APIC_BASE.EXTD).</summary>
    X2apic = 32 + 21,

    /// <summary>CPUID.1:ECX[26] XSAVE: XSAVE/XRSTOR, XSETBV/XGETBV and CR4.OSXSAVE.</summary>
    Xsave = 32 + 26,

    /// <summary>CPUID.1:ECX[28] AVX.</summary>
    Avx = 32 + 28,

    /// <summary>CPUID.1:ECX[31]: running under a hypervisor (reserved as 0 on bare hardware).</summary>
    Hypervisor = 32 + 31,

    /// <summary>CPUID.80000001H:EDX[11] SYSCALL/SYSRET.</summary>
    Syscall = 64 + 11,

    /// <summary>CPUID.80000001H:EDX[20] NX: execute-disable (EFER.NXE).</summary>
    Nx = 64 + 20,

    /// <summary>CPUID.80000001H:EDX[26] Page1GB: 1-GByte pages.</summary>
    Page1Gb = 64 + 26,

    /// <summary>CPUID.80000001H:EDX[27] RDTSCP and IA32_TSC_AUX.</summary>
    Rdtscp = 64 + 27,

    /// <summary>CPUID.80000001H:EDX[29] LM: Intel 64 architecture (long mode).</summary>
    Lm = 64 + 29,

    /// <summary>CPUID.80000001H:ECX[0] LAHF/SAHF in 64-bit mode.</summary>
    LahfLm = 96 + 0,

    /// <summary>CPUID.80000001H:ECX[2] SVM: AMD secure virtual machine.</summary>
    Svm = 96 + 2,

    /// <summary>CPUID.(7,0):EBX[0] FSGSBASE: RDFSBASE/RDGSBASE/WRFSBASE/WRGSBASE (CR4.FSGSBASE).</summary>
    Fsgsbase = 160 + 0,

    /// <summary>CPUID.(7,0):EBX[7] SMEP (CR4.SMEP).</summary>
    Smep = 160 + 7,

    /// <summary>CPUID.(7,0):EBX[20] SMAP (CR4.SMAP, STAC/CLAC).</summary>
    Smap = 160 + 20,

    /// <summary>CPUID.(7,0):ECX[2] UMIP (CR4.UMIP).</summary>
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

    /// <summary>XTF's cpu_has(): bit <c>feature % 32</c> of word <c>feature / 32</c>, as CPUID reported it at construction; words whose leaf is beyond the maximum read as 0.</summary>
    public bool Has(CpuFeature feature) => (words[(int)feature / 32] & (1u << ((int)feature % 32))) != 0;
}
