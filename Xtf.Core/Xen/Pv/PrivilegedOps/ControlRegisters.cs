using Iced.Intel;
using Xtf.Core.Cpu;

namespace Xtf.Core.Xen.Pv.PrivilegedOps;

/// <summary>
/// MOV to/from CR0, CR2, CR3 and CR4 and CLTS for the PV guest kernel (emul-priv-op.c read_cr,
/// write_cr). CR0: the hypervisor's CR0 with the guest's virtual TS; only TS may change
/// (do_fpu_taskswitch, <see cref="PvDomain.FpuTaskswitch"/>), any other change is not emulated. CR2: the vCPU's CR2 (vcpu_info's
/// arch.cr2). CR3: the guest kernel's root as a guest CR3 value (pv64: xen_pfn_to_cr3, the L4
/// frame shifted by 12; pv32pae: compat_pfn_to_cr3 of the L3 frame, whose bits 31:20 go to
/// CR3's low 12 bits); a write is new_guest_cr3. CR4: the guest's view, the subset of the
/// hypervisor's CR4 it may see plus the bits it controls (pv_fixup_guest_cr4). Others: not
/// emulated.
/// </summary>
internal sealed partial class PrivilegedOpEmulator
{
    /// <summary>PV_CR4_GUEST_MASK: the CR4 bits a PV guest controls (subject to its CPUID policy).</summary>
    private const ulong Cr4GuestMask = Cr4.TSD | Cr4.DE | Cr4.FSGSBASE | Cr4.OSXSAVE;

    /// <summary>PV_CR4_GUEST_VISIBLE_MASK: the hypervisor's CR4 bits a PV guest sees.</summary>
    private const ulong Cr4GuestVisibleMask = Cr4.PAE | Cr4.MCE | Cr4.OSFXSR | Cr4.OSXMMEXCPT;

    private ulong guestCr4Bits;

    /// <summary>The guest's CR4 (pv.ctrlreg[4]).</summary>
    public ulong GuestCr4 => guestCr4Bits | (Cpu.Cr4Value & Cr4GuestVisibleMask);

    /// <summary>read_cr(0): the hypervisor's CR0 with TS replaced by the guest's virtual TS.</summary>
    private ulong GuestCr0 => (Cpu.Cr0Value & ~Cr0.TS) | (d.VirtualTs ? Cr0.TS : 0);

    private PrivOpResult MoveControlRegister(in Instruction i)
    {
        RequireRing0();
        bool write = IsControlRegister(i.Op0Register);
        int cr = (write ? i.Op0Register : i.Op1Register) - Register.CR0;
        var (gpr, bytes) = Gpr(write ? i.Op1Register : i.Op0Register);
        if (gpr < 0)
            return PrivOpResult.Unhandleable;
        if (write)
        {
            ulong value = bytes == 4 ? Cpu[gpr] & 0xFFFFFFFF : Cpu[gpr];
            return WriteCr(cr, value) ? PrivOpResult.Done : PrivOpResult.Unhandleable;
        }

        if (!TryReadCr(cr, out ulong result))
            return PrivOpResult.Unhandleable;
        Cpu[gpr] = bytes == 4 ? result & 0xFFFFFFFF : result;
        return PrivOpResult.Done;
    }

    public bool TryReadCr(int cr, out ulong value)
    {
        switch (cr)
        {
            case 0:
                value = GuestCr0;
                return true;
            case 2:
                value = d.ReadVcpuInfoCr2();
                return true;
            case 3:
                {
                    ulong root = d.Vcpu.KernelRoot;
                    value = d.Is64BitDomain ? root << 12 : ((root << 12) | (root >> 20)) & 0xFFFFFFFF;
                    return true;
                }

            case 4:
                value = GuestCr4;
                return true;
            default:
                value = 0;
                return false;
        }
    }

    public bool WriteCr(int cr, ulong value)
    {
        switch (cr)
        {
            case 0:
                if (((value ^ Cpu.Cr0Value) & ~Cr0.TS) != 0)
                {
                    d.Log("Attempt to change unmodifiable CR0 flags");
                    return false;
                }

                d.FpuTaskswitch((value & Cr0.TS) != 0);
                return true;
            case 2:
                d.WriteVcpuInfoCr2(value);
                return true;
            case 3:
                {
                    // xen_cr3_to_pfn / compat_cr3_to_pfn; the frame must be the guest's (get_page_from_gfn).
                    ulong pfn = d.Is64BitDomain ? value >> 12 : ((value >> 12) | ((value & 0xFFF) << 20)) & 0xFFFFFFFF;
                    return pfn < d.GuestFrames && d.Mmu.NewBaseptr(pfn) == 0;
                }

            case 4:
                // pv_make_cr4: the guest's TSD and DE are the processor's while it runs; so is a
                // 64-bit guest's FSGSBASE ("we must not have CR4.FSGSBASE set behind the back of
                // a 64bit PV kernel", xen/arch/x86/pv/domain.c), which the policy only offers when
                // the processor has it. A 32-bit guest's FSGSBASE stays Xen's.
                guestCr4Bits = value & Cr4GuestMask & Cr4Policy();
                ulong real = Cr4.TSD | Cr4.DE | (d.Is64BitDomain ? Cr4.FSGSBASE : 0);
                Cpu.WriteControlRegister(4, (Cpu.Cr4Value & ~real) | (guestCr4Bits & real));
                return true;
            default:
                return false;
        }
    }

    /// <summary>The controllable CR4 bits the guest's CPUID policy offers: TSD (TSC), DE, FSGSBASE, OSXSAVE (XSAVE).</summary>
    private ulong Cr4Policy()
    {
        var leaf1 = PvDomain.EmulatedCpuid(1, 0);
        var leaf7 = PvDomain.EmulatedCpuid(7, 0);
        ulong policy = 0;
        if ((leaf1.Edx & (1u << 4)) != 0)
            policy |= Cr4.TSD;
        if ((leaf1.Edx & (1u << 2)) != 0)
            policy |= Cr4.DE;
        if ((leaf7.Ebx & 1u) != 0)
            policy |= Cr4.FSGSBASE;
        if ((leaf1.Ecx & (1u << 26)) != 0)
            policy |= Cr4.OSXSAVE;
        return policy;
    }
}
