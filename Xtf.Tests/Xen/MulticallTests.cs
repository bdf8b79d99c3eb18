using NUnit.Framework;
using Xtf.Core.Xen;

namespace Xtf.Tests.Xen;

/// <summary>
/// HYPERVISOR_multicall against xen/common/multicall.c do_multicall and its compat twin
/// (xen/common/compat/multicall.c): entry layouts from public/xen.h struct multicall_entry
/// (native 64 bytes: op, result, args[6] of 8 bytes; compat 32 bytes of 4-byte fields).
/// </summary>
[TestFixture]
public sealed class MulticallTests
{
    private const ulong List = 0x8000;
    private const ulong Text = 0x9000;

    /// <summary>The result field's poison before the call: an entry still holding it was not run.</summary>
    internal const long Unrun = 0x5A5A5A5A5A5A5A5A;

    /// <summary>A native (64-byte) multicall entry: op, the <see cref="Unrun"/> result, args.</summary>
    internal static byte[] NativeEntry(ulong op, params ulong[] args)
    {
        var e = new byte[64];
        BitConverter.TryWriteBytes(e.AsSpan(0), op);
        BitConverter.TryWriteBytes(e.AsSpan(8), Unrun);
        for (int i = 0; i < args.Length; i++)
            BitConverter.TryWriteBytes(e.AsSpan(16 + (8 * i)), args[i]);
        return e;
    }

    private static byte[] CompatEntry(uint op, params uint[] args)
    {
        var e = new byte[32];
        BitConverter.TryWriteBytes(e.AsSpan(0), op);
        BitConverter.TryWriteBytes(e.AsSpan(4), 0x5A5A5A5Au);
        for (int i = 0; i < args.Length; i++)
            BitConverter.TryWriteBytes(e.AsSpan(8 + (4 * i)), args[i]);
        return e;
    }

    private static HypercallTestDomain WithNativeList(params byte[][] entries)
    {
        var d = new HypercallTestDomain(is64Bit: true);
        d.Write(List, entries.SelectMany(e => e).ToArray());
        return d;
    }

    [TestCase(true)]
    [TestCase(false)]
    public void NoCallsReturnsZeroWithoutReadingTheList(bool is64Bit)
    {
        // do_multicall: the loop runs nr_calls times; with 0 the list is never copied.
        var d = new HypercallTestDomain(is64Bit);
        Assert.That(d.Call(HypercallNumber.Multicall, HypercallTestDomain.BeyondRam, 0), Is.EqualTo(0));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void AListOutsideGuestMemoryIsEfault(bool is64Bit)
    {
        // HVM: guest_handle_okay() is true (paging_mode_external); the first __copy_from_guest fails: -EFAULT.
        var d = new HypercallTestDomain(is64Bit);
        Assert.That(d.Call(HypercallNumber.Multicall, HypercallTestDomain.BeyondRam, 1), Is.EqualTo(-XenErrno.EFAULT));
    }

    [Test]
    public void NativeEntriesRunInOrderAndOnlyTheResultFieldIsWrittenBack()
    {
        // Entry 0: xen_version(XENVER_pagesize, 0xDEAD) = -EINVAL (a non-null handle, common/kernel.c);
        // entry 1: sched_op(99) = -ENOSYS (do_sched_op default).
        var d = WithNativeList(
            NativeEntry(HypercallNumber.XenVersion, XenVersionCommand.Pagesize, 0xDEAD),
            NativeEntry(HypercallNumber.SchedOp, 99));
        Assert.That(d.Call(HypercallNumber.Multicall, List, 2), Is.EqualTo(0));
        Assert.Multiple(() =>
        {
            Assert.That(d.ReadInt64(List + 8), Is.EqualTo(-XenErrno.EINVAL));
            Assert.That(d.ReadInt64(List + 64 + 8), Is.EqualTo(-XenErrno.ENOSYS));
            Assert.That(BitConverter.ToUInt64(d.Read(List + 16 + 8, 8)), Is.EqualTo(0xDEADul), "args untouched");
            Assert.That(BitConverter.ToUInt64(d.Read(List + 64, 8)), Is.EqualTo((ulong)HypercallNumber.SchedOp), "op untouched");
        });
    }

    [Test]
    public void NativeArgumentsReachTheSubcall()
    {
        // console_io(CONSOLEIO_write, 5, Text) from args[0..2] at offsets 16, 24, 32.
        var d = WithNativeList(NativeEntry(HypercallNumber.ConsoleIo, ConsoleIoCommand.Write, 5, Text));
        d.Write(Text, "hello"u8.ToArray());
        Assert.That(d.Call(HypercallNumber.Multicall, List, 1), Is.EqualTo(0));
        Assert.That(d.HypervisorConsole.Text, Is.EqualTo("hello"));
        Assert.That(d.ReadInt64(List + 8), Is.EqualTo(0));
    }

    [Test]
    public void CompatEntriesAre32BytesWithA32BitResult()
    {
        // compat_multicall_entry: op at 0, result at 4 (int), args at 8 + 4i; 32 bytes each.
        var d = new HypercallTestDomain(is64Bit: false);
        d.Write(Text, "hi"u8.ToArray());
        d.Write(List, [
            .. CompatEntry(HypercallNumber.SchedOp, 99),
            .. CompatEntry(HypercallNumber.ConsoleIo, ConsoleIoCommand.Write, 2, (uint)Text),
        ]);
        Assert.That(d.Call(HypercallNumber.Multicall, List, 2), Is.EqualTo(0));
        Assert.Multiple(() =>
        {
            Assert.That(d.ReadInt32(List + 4), Is.EqualTo(-XenErrno.ENOSYS));
            Assert.That(d.ReadInt32(List + 32 + 4), Is.EqualTo(0));
            Assert.That(BitConverter.ToUInt32(d.Read(List + 8, 4)), Is.EqualTo(99u), "args[0] untouched");
            Assert.That(d.HypervisorConsole.Text, Is.EqualTo("hi"));
        });
    }

    [Test]
    public void ANestedMulticallIsRefusedWithEinvalAndTheBatchGoesOn()
    {
        // do_multicall: _MCSF_in_multicall already set -> "Multicall reentry is disallowed.",
        // -EINVAL; that is the entry's result and the outer loop continues.
        var d = WithNativeList(
            NativeEntry(HypercallNumber.Multicall, List, 1),
            NativeEntry(HypercallNumber.XenVersion, XenVersionCommand.Pagesize));
        Assert.That(d.Call(HypercallNumber.Multicall, List, 2), Is.EqualTo(0));
        Assert.That(d.ReadInt64(List + 8), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.ReadInt64(List + 64 + 8), Is.EqualTo(4096));

        // mcs->flags = 0 on return: the next top-level multicall is accepted again.
        Assert.That(d.Call(HypercallNumber.Multicall, List + 64, 1), Is.EqualTo(0));
    }

    [Test]
    public void AListRunningOffGuestMemoryDoesTheEntriesBeforeTheFaultThenEfault()
    {
        // The last native entry that fits below the end of RAM runs; the copy of the next fails: -EFAULT.
        ulong last = HypercallTestDomain.RamTop - 64;
        var d = new HypercallTestDomain(is64Bit: true);
        d.Write(last, NativeEntry(HypercallNumber.XenVersion, XenVersionCommand.Pagesize));
        Assert.That(d.Call(HypercallNumber.Multicall, last, 2), Is.EqualTo(-XenErrno.EFAULT));
        Assert.That(d.ReadInt64(last + 8), Is.EqualTo(4096));
    }

    [Test]
    public void AnOpBeyondTheTableIsEnosysNotTruncated()
    {
        // pv/hvm_do_multicall_call compare the whole xen_ulong_t op with the table size:
        // 0x1_0000_0011 is not xen_version (17) but -ENOSYS.
        var d = WithNativeList(NativeEntry(0x1_0000_0000ul + HypercallNumber.XenVersion, XenVersionCommand.Pagesize));
        Assert.That(d.Call(HypercallNumber.Multicall, List, 1), Is.EqualTo(0));
        Assert.That(d.ReadInt64(List + 8), Is.EqualTo(-XenErrno.ENOSYS));
    }

    [Test]
    public void AnEntryWithABadPointerFailsAloneWithEfault()
    {
        // The subcall's own -EFAULT is its result; the multicall itself returns 0.
        var d = WithNativeList(
            NativeEntry(HypercallNumber.XenVersion, XenVersionCommand.Extraversion, HypercallTestDomain.BeyondRam),
            NativeEntry(HypercallNumber.XenVersion, XenVersionCommand.Pagesize));
        Assert.That(d.Call(HypercallNumber.Multicall, List, 2), Is.EqualTo(0));
        Assert.That(d.ReadInt64(List + 8), Is.EqualTo(-XenErrno.EFAULT));
        Assert.That(d.ReadInt64(List + 64 + 8), Is.EqualTo(4096));
    }
}
