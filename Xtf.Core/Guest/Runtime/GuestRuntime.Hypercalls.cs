using Xtf.Core.Guest.Image;
using Xtf.Core.Xen;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Core.Guest.Runtime;

public sealed partial class GuestRuntime
{
    /// <summary>True once the hypercall page has been installed and checked (XTF's init_hypercalls).</summary>
    public bool HypercallsReady { get; private set; }

    /// <summary>
    /// A hypercall through the hypercall page, <c>call hypercall_page + nr * 32</c>, with XTF's
    /// register ABI (arch/x86/include/arch/hypercall-x86_*.h): in 32-bit environments the
    /// arguments in EBX, ECX, EDX, ESI, EDI and the result EAX, sign-extended; in hvm64 in RDI,
    /// RSI, RDX, R10, R8 and the result RAX.
    /// </summary>
    public long Hypercall(int number, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, ulong a4 = 0, ulong a5 = 0)
    {
        ulong stub = HvmLayout.HypercallPage + (ulong)(number * HypercallPage.SlotSize);
        var r = Exec(a =>
        {
            HypercallRegisters.Load(a, new HypercallArgs(a1, a2, a3, a4, a5));
            if (Bitness == 64)
                a.call(stub);
            else
                a.call((uint)stub);
        }, ExecFaults.Unhandled);
        return Bitness == 64 ? (long)r.Rax : (int)r.Eax;
    }

    /// <summary>
    /// XTF's init_hypercalls for HVM: find Xen's CPUID leaves (a base from 0x40000000 in steps
    /// of 0x100 with the "XenVMMXenVMM" signature and at least two leaves), write the hypercall
    /// page's address to the MSR named by leaf base+2, and check the page was written.
    /// </summary>
    public void InitHypercalls()
    {
        if (IsPv)
        {
            InitPv();
            return;
        }

        uint? found = null;
        for (uint leaf = 0x40000000; leaf < 0x40010000; leaf += 0x100)
        {
            var r = Cpuid(leaf, 0);
            if (r.Ebx == XenCpuid.SignatureEbx && r.Ecx == XenCpuid.SignatureEcx && r.Edx == XenCpuid.SignatureEdx
                && r.Eax - leaf >= 2)
            {
                found = leaf;
                break;
            }
        }

        if (found is not { } xenBase)
            Panic("Unable to locate Xen CPUID leaves\n");
        else
        {
            uint msr = Cpuid(xenBase + 2, 0).Ebx;
            var fault = Exec(a =>
            {
                a.mov(ecx, msr);
                a.mov(eax, (uint)HvmLayout.HypercallPage);
                a.xor(edx, edx);
                a.wrmsr();
            }).Fault;
            if (!fault.IsNone)
                Panic($"Writing the hypercall MSR {msr:x8} faulted: {fault}\n");
        }

        if (ReadKernelByte(HvmLayout.HypercallPage) == 0xC3)
            Panic("Hypercall page not initialised correctly\n");
        HypercallsReady = true;
    }

    /// <summary>
    /// CPUID executed in the guest; PV guests use the forced form (XTF's pv_cpuid_count:
    /// <c>ud2a; .ascii "xen"; cpuid</c>), which the hypervisor answers with its own view.
    /// </summary>
    public Cpu.CpuidResult Cpuid(uint leaf, uint subleaf) => Cpuid(leaf, subleaf, forced: IsPv);

    /// <summary>CPUID in the guest, behind the forced emulation prefix when <paramref name="forced"/>.</summary>
    public Cpu.CpuidResult Cpuid(uint leaf, uint subleaf, bool forced)
    {
        var r = Exec(a =>
        {
            a.mov(eax, leaf);
            a.mov(ecx, subleaf);
            if (forced)
                a.Fep();
            a.cpuid();
        }, ExecFaults.Unhandled);
        return new Cpu.CpuidResult(r.Eax, r.Ebx, r.Ecx, r.Edx);
    }

    /// <summary>Reads a byte as a kernel-mode load through DS would.</summary>
    internal byte ReadKernelByte(ulong address) =>
        (byte)Cpu.ReadLinear(Cpu.LinearAddress(Xtf.Core.Cpu.X86Cpu.DS, address, 1, Xtf.Core.Cpu.Memory.AccessKind.Read), 1, user: false);
}
