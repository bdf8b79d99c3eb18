using System.Buffers.Binary;
using NUnit.Framework;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Viridian;
using Xtf.Tests.Cpu;

namespace Xtf.Tests.Xen;

/// <summary>
/// Hyper-V hypercalls through the viridian hypercall page from 32-bit code (input EDX:EAX,
/// input GPA EBX:ECX, output EDX:EAX), as xen/arch/x86/hvm/viridian/viridian.c
/// viridian_hypercall answers them: HV_STATUS_SUCCESS 0, HV_STATUS_INVALID_HYPERCALL_CODE 2,
/// HV_STATUS_INVALID_PARAMETER 5 in bits 15:0, reps complete in bits 43:32.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class ViridianHypercallTests
{
    private const ulong Page = 0x50000, Params = CpuHarness.DataBase;

    private static ViridianHarness Viridian()
    {
        var v = new ViridianHarness(ViridianFeatures.BaseFreq | ViridianFeatures.NoFreq);
        Assert.That(v.Wrmsr(ViridianMsr.Hypercall, Page | 1), Is.Null);
        return v;
    }

    private static void WriteParams(ViridianHarness v, params ulong[] words)
    {
        var b = new byte[8 * words.Length];
        for (int i = 0; i < words.Length; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8 * i), words[i]);
        v.H.Vm.Memory.Write(Params, b);
    }

    [Test]
    public void NotifyLongSpinWaitSucceeds() =>
        Assert.That(Viridian().Call(Page, ViridianHypercall.NotifyLongSpinWait), Is.EqualTo((0ul, (int?)null)));

    [TestCase(0x0099u, TestName = "An unknown call code is HV_STATUS_INVALID_HYPERCALL_CODE")]
    [TestCase(0x8001u, TestName = "HVCALL_EXT_CALL_QUERY_CAPABILITIES is HV_STATUS_INVALID_HYPERCALL_CODE")]
    [TestCase(0x005Cu, TestName = "HVCALL_POST_MESSAGE is not implemented by Xen")]
    public void UnknownCode(uint code) =>
        Assert.That(Viridian().Call(Page, code).EdxEax, Is.EqualTo(2ul));

    [Test]
    public void FlushCompletesItsReps()
    {
        var v = Viridian();
        // address space, flags HV_FLUSH_ALL_PROCESSORS, vcpu mask.
        WriteParams(v, 0, 1, 0);
        // rep count 3 in input bits 43:32 (EDX bits 11:0): rep_complete 3 in output bits 43:32.
        Assert.That(v.Call(Page, ViridianHypercall.FlushVirtualAddressList, edxIn: 3, ecxIn: (uint)Params).EdxEax, Is.EqualTo(3ul << 32));
        Assert.That(v.Call(Page, ViridianHypercall.FlushVirtualAddressSpace | (1u << 16), ecxIn: (uint)Params).EdxEax, Is.EqualTo(5ul), "fast");
        Assert.That(v.Call(Page, ViridianHypercall.FlushVirtualAddressSpace, ecxIn: 0xFFFF_F000).EdxEax, Is.EqualTo(5ul), "parameters beyond RAM");
    }

    [Test]
    public void FlushExChecksItsVpSet()
    {
        var v = Viridian();
        // address space, flags 0, hv_vpset { format SPARSE_4K, valid_bank_mask 1, bank 0 = vCPU 0 }.
        WriteParams(v, 0, 0, 0, 1, 1);
        Assert.That(v.Call(Page, ViridianHypercall.FlushVirtualAddressSpaceEx, ecxIn: (uint)Params).EdxEax, Is.Zero);
        WriteParams(v, 0, 0, 7, 0);
        Assert.That(v.Call(Page, ViridianHypercall.FlushVirtualAddressSpaceEx, ecxIn: (uint)Params).EdxEax, Is.EqualTo(5ul), "an unknown set format");
    }

    [TestCase(0x0Fu, 5ul, TestName = "HVCALL_SEND_IPI to vector 0x0F is HV_STATUS_INVALID_PARAMETER")]
    [TestCase(0x30u, 0ul, TestName = "HVCALL_SEND_IPI to vector 0x30 succeeds (no enabled local APIC takes it)")]
    [TestCase(0x100u, 5ul, TestName = "HVCALL_SEND_IPI to vector 0x100 is HV_STATUS_INVALID_PARAMETER")]
    public void SendIpiVector(uint vector, ulong status)
    {
        var v = Viridian();
        WriteParams(v, vector, 1);
        Assert.That(v.Call(Page, ViridianHypercall.SendIpi, ecxIn: (uint)Params).EdxEax, Is.EqualTo(status));
    }

    [Test]
    public void SendIpiReservedBytesMustBeZero()
    {
        var v = Viridian();
        WriteParams(v, 0x30 | (1ul << 32), 1);     // target_vtl 1
        Assert.That(v.Call(Page, ViridianHypercall.SendIpi, ecxIn: (uint)Params).EdxEax, Is.EqualTo(5ul));
    }

    [Test]
    public void WithoutViridianBit31IsAnUnknownXenHypercall()
    {
        var v = new ViridianHarness(ViridianFeatures.None);
        Assert.That(v.Wrmsr(0x40000000, Page), Is.Null, "Xen's hypercall page");
        // Slot 0's stub, entered after its mov: vmcall with EAX = 0x80000008 reaches Xen's table.
        var (value, fault) = v.Call(Page + 5, 0x80000008);
        Assert.That(fault, Is.Null);
        Assert.That((uint)value, Is.EqualTo(unchecked((uint)-XenErrno.ENOSYS)));
    }
}
