using Xtf.Core.Cpu;

namespace Xtf.Core.Xen.Pv.PrivilegedOps;

/// <summary>
/// RDMSR/WRMSR from the PV guest kernel (emul-priv-op.c read_msr / write_msr), the MSRs a PV
/// guest has: pv64's FS and GS bases and the other GS base (MSR_SHADOW_GS_BASE, the user one
/// while the kernel runs; writes must be canonical); the TSC (read); EFER (read: the
/// hypervisor's; 32-bit guests do not see LME and LMA, nor SCE on Intel, which this machine is); IA32_PERF_CAPABILITIES
/// (reads 0); MSR_INTEL_PLATFORM_INFO and MISC_FEATURES_ENABLES, the guest's CPUID faulting
/// (guest_rdmsr / guest_wrmsr). Every other MSR is #GP(0), as Xen 4.15 and later treat MSRs they do not
/// implement; with the domain's msr_relaxed, one the hardware has (rdmsr_safe succeeds) reads as 0
/// and its writes are dropped. From user mode, #GP(0).
/// </summary>
internal sealed partial class PrivilegedOpEmulator
{
    private const uint MsrPerfCapabilities = 0x345;

    private PrivOpResult ReadMsr()
    {
        RequireRing0();
        if (!TryReadMsr(Cpu.Ecx, out ulong value) && !Relaxed(Cpu.Ecx))
            throw CpuFault.GP(0);
        SetEdxEax(value);
        return PrivOpResult.Done;
    }

    private PrivOpResult WriteMsr()
    {
        RequireRing0();
        ulong value = ((ulong)Cpu.Edx << 32) | Cpu.Eax;
        if (!TryWriteMsr(Cpu.Ecx, value) && !Relaxed(Cpu.Ecx))
            throw CpuFault.GP(0);
        return PrivOpResult.Done;
    }

    /// <summary>read_msr/write_msr's default case: <c>if ( currd-&gt;arch.msr_relaxed &amp;&amp; !rdmsr_safe(reg, &amp;tmp) )</c> the access is done (a read gives 0).</summary>
    private bool Relaxed(uint msr) => d.Options.MsrRelaxed && X86Cpu.ImplementsMsr(msr);

    public bool TryReadMsr(uint msr, out ulong value)
    {
        bool wide = d.Is64BitDomain;
        switch (msr)
        {
            case X86Cpu.MsrFsBase when wide:
                value = Cpu.Segments[X86Cpu.FS].Base;
                return true;
            case X86Cpu.MsrGsBase when wide:
                value = Cpu.Segments[X86Cpu.GS].Base;
                return true;
            case X86Cpu.MsrKernelGsBase when wide:
                value = Cpu.ReadMsr(X86Cpu.MsrKernelGsBase);
                return true;
            case X86Cpu.MsrTsc:
                value = Cpu.TimeStampCounter;
                return true;
            case X86Cpu.MsrEfer:
                value = Cpu.EferValue;
                if (!wide)
                    value &= ~(Efer.LME | Efer.LMA | Efer.SCE);
                return true;
            case MsrPerfCapabilities:
                value = 0;
                return true;
            case CpuidFaulting.MsrPlatformInfo or CpuidFaulting.MsrMiscFeaturesEnables:
                value = d.CpuidFaulting.Read(msr);
                return true;
            default:
                value = 0;
                return false;
        }
    }

    public bool TryWriteMsr(uint msr, ulong value)
    {
        switch (msr)
        {
            case X86Cpu.MsrFsBase or X86Cpu.MsrGsBase or X86Cpu.MsrKernelGsBase when d.Is64BitDomain && X86Cpu.IsCanonical(value):
                Cpu.WriteMsr(msr, value);
                return true;
            case CpuidFaulting.MsrPlatformInfo or CpuidFaulting.MsrMiscFeaturesEnables:
                return d.CpuidFaulting.TryWrite(msr, value);
            default:
                return false;
        }
    }
}
