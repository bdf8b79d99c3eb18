using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using Xtf.Tests.Guests;

namespace Xtf.Tests.Xen;

/// <summary>
/// HYPERVISOR_multicall from a real guest: a 64-bit guest uses the native 64-byte entries, a
/// 32-bit guest the compat 32-byte ones (xen/common/compat/multicall.c), each result written
/// back through the guest's page tables; a list at an unmapped address is -EFAULT.
/// </summary>
[TestFixture]
public sealed class MulticallGuestTests
{
    public sealed class MulticallGuest : TestCase
    {
        private const ulong List = HvmLayout.Scratch;

        public override void Main()
        {
            int size = Bitness == 64 ? 64 : 32;
            int field = size / 8;
            var list = new byte[2 * size];
            // Entry 0: xen_version(XENVER_pagesize) = 4096. Entry 1: sched_op(99) = -ENOSYS.
            Put(list, 0, field, HypercallNumber.XenVersion);
            Put(list, 2 * field, field, XenVersionCommand.Pagesize);
            Put(list, size, field, HypercallNumber.SchedOp);
            Put(list, size + (2 * field), field, 99);
            Runtime.WriteKernelBytes(List, list);

            long rc = Hypercall(HypercallNumber.Multicall, List, 2);
            long r0 = Result(List + (ulong)field, field);
            long r1 = Result(List + (ulong)size + (ulong)field, field);
            if (rc != 0 || r0 != 4096 || r1 != -XenErrno.ENOSYS)
                Failure($"Fail: multicall returned {rc}, results {r0}, {r1}; expected 0, 4096, {-XenErrno.ENOSYS}\n");

            // An unmapped list (above RAM; in hvm64 also a non-canonical one): the first copy fails.
            rc = Hypercall(HypercallNumber.Multicall, 0xFFFF_F000, 1);
            if (rc != -XenErrno.EFAULT)
                Failure($"Fail: multicall of an unmapped list returned {rc}, expected {-XenErrno.EFAULT}\n");
            if (Bitness == 64 && (rc = Hypercall(HypercallNumber.Multicall, 0x0000_8000_0000_0000, 1)) != -XenErrno.EFAULT)
                Failure($"Fail: multicall of a non-canonical list returned {rc}, expected {-XenErrno.EFAULT}\n");

            Success();
        }

        private static void Put(byte[] b, int offset, int size, long value)
        {
            if (size == 8)
                BitConverter.TryWriteBytes(b.AsSpan(offset), value);
            else
                BitConverter.TryWriteBytes(b.AsSpan(offset), (int)value);
        }

        private long Result(ulong address, int size)
        {
            ulong v = 0;
            for (int i = size - 1; i >= 0; i--)
                v = (v << 8) | Runtime.ReadKernelByte(address + (ulong)i);
            return size == 8 ? (long)v : (int)(uint)v;
        }
    }

    [TestCase(Environments.Hvm32)]
    [TestCase(Environments.Hvm32Pae)]
    [TestCase(Environments.Hvm64)]
    public void MulticallUsesTheCallersEntryLayout(Environments env)
    {
        var o = GuestHarness.Run<MulticallGuest>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog);
    }
}
