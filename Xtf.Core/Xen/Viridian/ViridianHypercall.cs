using System.Buffers.Binary;
using System.Numerics;
using Xtf.Core.Cpu;
using Xtf.Core.Machine;

namespace Xtf.Core.Xen.Viridian;

/// <summary>
/// A Hyper-V hypercall: VMCALL with EAX bit 31 set (the hypercall page's <c>orl $0x80000000,
/// %eax</c>) in a viridian domain (xen/arch/x86/hvm/hypercall.c hvm_hypercall, after its CPL
/// check; xen/arch/x86/hvm/viridian/viridian.c viridian_hypercall). No call depends on the
/// enabled groups. The input value (call code 15:0, fast bit 16, rep count 43:32) and the two
/// parameter GPAs come in RCX, RDX, R8 (64-bit) or EDX:EAX, EBX:ECX, EDI:ESI (32-bit); other
/// modes do nothing. The output value (result 15:0, reps complete 43:32) goes to RAX, or EDX:EAX.
/// </summary>
public static class ViridianHypercall
{
    /// <summary>HVCALL_* call codes (asm/guest/hyperv-tlfs.h).</summary>
    public const ushort FlushVirtualAddressSpace = 0x0002, FlushVirtualAddressList = 0x0003, NotifyLongSpinWait = 0x0008,
        SendIpi = 0x000B, FlushVirtualAddressSpaceEx = 0x0013, FlushVirtualAddressListEx = 0x0014, SendIpiEx = 0x0015,
        ExtCallQueryCapabilities = 0x8001;

    /// <summary>HV_STATUS_SUCCESS, HV_STATUS_INVALID_HYPERCALL_CODE, HV_STATUS_INVALID_PARAMETER.</summary>
    public const ushort Success = 0, InvalidHypercallCode = 2, InvalidParameter = 5;

    /// <summary>HV_FLUSH_ALL_PROCESSORS; HV_GENERIC_SET_SPARSE_4K and HV_GENERIC_SET_ALL (hv_vpset.format).</summary>
    private const ulong FlushAllProcessors = 1, SetSparse4K = 0, SetAll = 1;

    private enum Rc
    {
        Ok,
        EInval,
        EOpNotSupp,
    }

    /// <summary>Runs the call in the vCPU's registers; <paramref name="memory"/> is the domain's RAM (hvm_copy_from_guest_phys).</summary>
    public static void Call(X86Cpu cpu, PhysicalMemory memory)
    {
        // The output-parameter GPA (R8, or EDI:ESI) is read by no call modelled here.
        ulong input, inGpa;
        switch (cpu.Bitness)
        {
            case 64:
                (input, inGpa) = (cpu[X86Cpu.RCX], cpu[X86Cpu.RDX]);
                break;
            case 32:
                input = ((ulong)cpu.Edx << 32) | cpu.Eax;
                inGpa = ((ulong)cpu.Ebx << 32) | cpu.Ecx;
                break;
            default:
                // "default: goto out": no call, and no register written for these modes.
                return;
        }

        ushort code = (ushort)input;
        bool fast = (input & (1ul << 16)) != 0;
        ulong repCount = (input >> 32) & 0xFFF;
        ulong repComplete = 0;
        Rc rc = code switch
        {
            // vcpu_yield(): one vCPU, nothing else to run.
            NotifyLongSpinWait => Rc.Ok,
            FlushVirtualAddressSpace or FlushVirtualAddressList => Flush(cpu, memory, fast, inGpa, extended: false),
            FlushVirtualAddressSpaceEx or FlushVirtualAddressListEx => Flush(cpu, memory, fast, inGpa, extended: true),
            SendIpi => Ipi(memory, fast, inGpa),
            SendIpiEx => IpiEx(memory, fast, inGpa),
            _ => Rc.EOpNotSupp,
        };
        if (rc == Rc.Ok && code is FlushVirtualAddressSpace or FlushVirtualAddressList or FlushVirtualAddressSpaceEx or FlushVirtualAddressListEx)
            repComplete = repCount;     // "output->rep_complete = input->rep_count"

        ulong result = rc switch
        {
            Rc.Ok => Success,
            Rc.EOpNotSupp => InvalidHypercallCode,
            _ => InvalidParameter,
        };
        ulong output = result | (repComplete << 32);
        if (cpu.Bitness == 64)
        {
            cpu[X86Cpu.RAX] = output;
        }
        else
        {
            cpu.Edx = (uint)(output >> 32);
            cpu.Eax = (uint)output;
        }
    }

    /// <summary>
    /// hvcall_flush / hvcall_flush_ex: never fast; the parameters (address space, flags, then a
    /// vCPU mask or an hv_vpset) copied from guest-physical memory; then paging_flush_tlb of the
    /// vCPUs named. The one vCPU is flushed when it is among them.
    /// </summary>
    private static Rc Flush(X86Cpu cpu, PhysicalMemory memory, bool fast, ulong inGpa, bool extended)
    {
        if (fast)
            return Rc.EInval;
        Span<byte> p = stackalloc byte[extended ? 32 : 24];
        if (!TryCopyFromGuestPhys(memory, inGpa, p))
            return Rc.EInval;
        ulong flags = BinaryPrimitives.ReadUInt64LittleEndian(p[8..]);
        bool vcpu0;
        if (!extended)
        {
            vcpu0 = (flags & FlushAllProcessors) != 0 || (BinaryPrimitives.ReadUInt64LittleEndian(p[16..]) & 1) != 0;
        }
        else if ((flags & FlushAllProcessors) != 0 || BinaryPrimitives.ReadUInt64LittleEndian(p[16..]) == SetAll)
        {
            vcpu0 = true;
        }
        else
        {
            var set = VpSet(memory, p[16..], inGpa + 32);
            if (set is null)
                return Rc.EInval;
            vcpu0 = set.Value;
        }

        if (vcpu0)
            cpu.InvalidateAllTranslations();
        return Rc.Ok;
    }

    /// <summary>
    /// hvcall_ipi: fast (vector in the input GPA's low half, which must be all of it, and the mask
    /// in the output GPA, unused here) or from memory (vector, target_vtl and three reserved bytes that must be
    /// zero, mask); a vector outside 0x10-0xFF is -EINVAL. send_ipi then raises the vector on each
    /// named vCPU whose local APIC is enabled (vlapic_enabled); no local APIC is modelled, so it
    /// is never enabled and nothing is delivered.
    /// </summary>
    private static Rc Ipi(PhysicalMemory memory, bool fast, ulong inGpa)
    {
        uint vector;
        if (fast)
        {
            if (inGpa >> 32 != 0)
                return Rc.EInval;
            vector = (uint)inGpa;
        }
        else
        {
            Span<byte> p = stackalloc byte[16];
            if (!TryCopyFromGuestPhys(memory, inGpa, p))
                return Rc.EInval;
            if (BinaryPrimitives.ReadUInt32LittleEndian(p[4..]) != 0)
                return Rc.EInval;
            vector = BinaryPrimitives.ReadUInt32LittleEndian(p);
        }

        return vector is < 0x10 or > 0xFF ? Rc.EInval : Rc.Ok;
    }

    /// <summary>hvcall_ipi_ex: never fast; vector, target_vtl, reserved, then an hv_vpset; the same checks, then the set (see <see cref="Ipi"/>).</summary>
    private static Rc IpiEx(PhysicalMemory memory, bool fast, ulong inGpa)
    {
        if (fast)
            return Rc.EInval;
        Span<byte> p = stackalloc byte[24];
        if (!TryCopyFromGuestPhys(memory, inGpa, p))
            return Rc.EInval;
        if (BinaryPrimitives.ReadUInt32LittleEndian(p[4..]) != 0)
            return Rc.EInval;
        uint vector = BinaryPrimitives.ReadUInt32LittleEndian(p);
        if (vector is < 0x10 or > 0xFF)
            return Rc.EInval;
        return VpSet(memory, p[8..], inGpa + 24) is null ? Rc.EInval : Rc.Ok;
    }

    /// <summary>
    /// hv_vpset_to_vpmask: format HV_GENERIC_SET_ALL names every vCPU; HV_GENERIC_SET_SPARSE_4K
    /// has one 64-bit bank of vCPUs per set bit of valid_bank_mask, read from <paramref name="banksGpa"/>
    /// (a bank that cannot be read is -EINVAL); any other format is -EINVAL. The answer: whether
    /// vCPU 0 is named, or null for -EINVAL.
    /// </summary>
    private static bool? VpSet(PhysicalMemory memory, ReadOnlySpan<byte> header, ulong banksGpa)
    {
        ulong format = BinaryPrimitives.ReadUInt64LittleEndian(header);
        ulong validBanks = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
        if (format == SetAll)
            return true;
        if (format != SetSparse4K)
            return null;
        var banks = new byte[8 * BitOperations.PopCount(validBanks)];
        if (!TryCopyFromGuestPhys(memory, banksGpa, banks))
            return null;
        // vCPU 0 is bit 0 of bank 0, which is the first bank given when valid_bank_mask bit 0 is set.
        return (validBanks & 1) != 0 && (banks[0] & 1) != 0;
    }

    /// <summary>hvm_copy_from_guest_phys: every frame touched must be RAM of the domain, else HVMTRANS_bad_gfn_to_mfn.</summary>
    private static bool TryCopyFromGuestPhys(PhysicalMemory memory, ulong gpa, Span<byte> data)
    {
        if (data.IsEmpty)
            return true;
        if (gpa > ulong.MaxValue - (ulong)data.Length)
            return false;
        for (ulong f = gpa / PhysicalMemory.FrameSize; f <= (gpa + (ulong)data.Length - 1) / PhysicalMemory.FrameSize; f++)
        {
            if (!memory.IsPopulated(f))
                return false;
        }

        memory.Read(gpa, data);
        return true;
    }
}
