using Xtf.Core.Cpu;
using Xtf.Core.Machine;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Hypercalls;
using Xtf.Core.Xen.Pv.Memory;

namespace Xtf.Tests.Xen.Pv;

/// <summary>
/// A PV domain reduced to what the memory manager sees: 4 MiB of machine memory, guest frames
/// 0-511, hypervisor frames 512-1023 (512 = shared_info, 600 = Xen's M2P frame, 1000 = Xen's L4
/// for a pv32 guest). The CPU stays at reset with paging off, so hypercall buffers at guest
/// linear addresses are read at the same physical addresses; the page tables under test are
/// built in machine memory and reached through CR3 as the hypervisor walks them.
/// Start-of-day tables (<see cref="BuildStartOfDay"/>): pv64 L4 = 10, L3 = 11, L2 = 12, L1 = 13;
/// pv32 L3 = 10 (slot 0: L2 11, slot 3: Xen's L2 12), L1 = 13. The L1 maps linear
/// 0-2 MiB onto frames 0-511: page-table frames read-only, the rest read-write.
/// </summary>
internal sealed class PvMmuTestDomain : IHypercallContext, IPvMemoryContext
{
    public const ulong GuestFrameCount = 512;
    public const ulong SharedInfo = 512;
    public const ulong XenM2pFrame = 600;
    public const ulong XenCompatL4 = 1000;
    public const ulong Root = 10, L3Frame = 11, L2Frame = 12, L1Frame = 13;

    /// <summary>Guest frames with hypercall buffers (inside guest RAM, mapped RW).</summary>
    public const ulong Reqs = 0x100000, DonePtr = 0x101000;

    /// <summary>Above machine memory: every copy from it is -EFAULT.</summary>
    public const ulong BadPointer = 0x4000_0000;

    public const ulong P = Pte.Present, Rw = Pte.Rw, U = Pte.User;

    private readonly VirtualMachine vm;

    public PvMmuTestDomain(bool is64Bit)
    {
        vm = new VirtualMachine(new MachineOptions { MemoryBytes = 4 << 20 });
        Guest = new GuestMemory(vm.Cpu);
        Preemption = new HypercallPreemption(vm.Cpu);
        Is64Bit = is64Bit;
        Domain = DomainState.CreateHvm(vm.Memory);
        Mm = new PvMemoryManager(this);
        Mm.Frames.ShareWithGuest(SharedInfo);
    }

    public PvMemoryManager Mm { get; }

    public X86Cpu Cpu => vm.Cpu;

    public PhysicalMemory Memory => vm.Memory;

    public bool Is64Bit { get; }

    public ulong GuestFrames => GuestFrameCount;


    public GuestMemory Guest { get; }

    public HypercallPreemption Preemption { get; }

    public ConsoleLog HypervisorConsole { get; } = new();

    public bool IsHvm => false;

    public DomainState Domain { get; }

    public ShutdownReason? ShutdownCode { get; set; }

    public ulong KernelRoot { get; private set; }

    public ulong UserRoot { get; private set; }

    public Dictionary<ulong, ulong> M2p { get; } = [];

    public (ulong Base, uint Entries) Ldt { get; private set; }

    public void Shutdown(ShutdownReason reason)
    {
    }

    /// <summary>The domain's side of SetRoot: CR3 is the guest's L4 (pv64) or Xen's L4 whose slot 0 is the guest's L3 (pv32).</summary>
    public void SetRoot(ulong mfn, bool user)
    {
        if (user)
        {
            UserRoot = mfn;
            return;
        }

        KernelRoot = mfn;
        if (Is64Bit)
        {
            Cpu.Cr3 = mfn << 12;
        }
        else
        {
            WriteEntry(XenCompatL4, 0, (mfn << 12) | P | Rw | U | Pte.Accessed);
            Cpu.Cr3 = XenCompatL4 << 12;
        }
    }

    /// <summary>Xen's slots: 256 the read-only M2P (user, read-only), 257-271 empty.</summary>
    public void InitXenL4Slots(ulong l4Mfn)
    {
        for (int i = PvLayout.FirstXenL4Slot; i <= PvLayout.LastXenL4Slot; i++)
            WriteEntry(l4Mfn, i, i == PvLayout.FirstXenL4Slot ? (XenM2pFrame << 12) | P | U : 0);
    }

    public void InitXenPaeL2Slots(ulong l2Mfn)
    {
        for (int i = PvLayout.FirstCompatXenL2Slot; i < 512; i++)
            WriteEntry(l2Mfn, i, (XenM2pFrame << 12) | P);
    }

    public void SetM2pEntry(ulong mfn, ulong pfn) => M2p[mfn] = pfn;

    public void SetLdt(ulong linearBase, uint entries) => Ldt = (linearBase, entries);

    public ulong ReadEntry(ulong mfn, int slot)
    {
        var b = new byte[8];
        Memory.Read((mfn << 12) + ((ulong)slot * 8), b);
        return BitConverter.ToUInt64(b);
    }

    public void WriteEntry(ulong mfn, int slot, ulong value) =>
        Memory.Write((mfn << 12) + ((ulong)slot * 8), BitConverter.GetBytes(value));

    /// <summary>The domain builder's tables (see the class comment), not yet pinned.</summary>
    public void BuildStartOfDay()
    {
        if (Is64Bit)
        {
            WriteEntry(Root, 0, (L3Frame << 12) | P | Rw);
            WriteEntry(L3Frame, 0, (L2Frame << 12) | P | Rw);
        }
        else
        {
            WriteEntry(Root, 0, (L3Frame << 12) | P);
            WriteEntry(Root, 3, (L2Frame << 12) | P);
        }

        WriteEntry(Is64Bit ? L2Frame : L3Frame, 0, (L1Frame << 12) | P | Rw);
        for (ulong f = 0; f < 512; f++)
            WriteEntry(L1Frame, (int)f, (f << 12) | P | (f is >= Root and <= L1Frame ? 0 : Rw));
    }

    /// <summary>Builds and pins the start-of-day tables; the result of PinInitial.</summary>
    public int Boot()
    {
        BuildStartOfDay();
        return Mm.PinInitial(Root);
    }

    public void Write(ulong address, byte[] data) => Memory.Write(address, data);

    public uint ReadUInt32(ulong address)
    {
        var b = new byte[4];
        Memory.Read(address, b);
        return BitConverter.ToUInt32(b);
    }

    /// <summary>mmu_update requests { ptr | cmd, val } at <see cref="Reqs"/>.</summary>
    public void WriteRequests(params (ulong Ptr, ulong Val)[] requests)
    {
        var b = new byte[16 * requests.Length];
        for (int i = 0; i < requests.Length; i++)
        {
            BitConverter.TryWriteBytes(b.AsSpan(16 * i), requests[i].Ptr);
            BitConverter.TryWriteBytes(b.AsSpan((16 * i) + 8), requests[i].Val);
        }

        Write(Reqs, b);
    }

    /// <summary>mmuext_op structures at <see cref="Reqs"/> in the caller's ABI.</summary>
    public void WriteExtOps(params (uint Cmd, ulong Arg1, ulong Arg2)[] ops)
    {
        int size = Is64Bit ? 24 : 12;
        var b = new byte[size * ops.Length];
        for (int i = 0; i < ops.Length; i++)
        {
            var s = b.AsSpan(size * i);
            BitConverter.TryWriteBytes(s, ops[i].Cmd);
            if (Is64Bit)
            {
                BitConverter.TryWriteBytes(s[8..], ops[i].Arg1);
                BitConverter.TryWriteBytes(s[16..], ops[i].Arg2);
            }
            else
            {
                BitConverter.TryWriteBytes(s[4..], (uint)ops[i].Arg1);
                BitConverter.TryWriteBytes(s[8..], (uint)ops[i].Arg2);
            }
        }

        Write(Reqs, b);
    }

    /// <summary>Runs one hypercall the way the lead's table will dispatch it.</summary>
    public long Call(int number, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, ulong a4 = 0, ulong a5 = 0)
    {
        var args = new HypercallArgs(a1, a2, a3, a4, a5);
        return number switch
        {
            HypercallNumber.MmuUpdate => MmuUpdate.Call(this, Mm, args),
            HypercallNumber.UpdateVaMapping => UpdateVaMapping.Call(this, Mm, args),
            HypercallNumber.UpdateVaMappingOtherdomain => UpdateVaMapping.CallOtherDomain(this, Mm, args),
            HypercallNumber.MmuextOp => MmuextOp.Call(this, Mm, args),
            _ => -XenErrno.ENOSYS,
        };
    }

    public long MmuUpdate1(ulong ptr, ulong val)
    {
        WriteRequests((ptr, val));
        return Call(HypercallNumber.MmuUpdate, Reqs, 1, DonePtr, ReservedDomainId.Self);
    }

    public long Ext(uint cmd, ulong arg1 = 0, ulong arg2 = 0)
    {
        WriteExtOps((cmd, arg1, arg2));
        return Call(HypercallNumber.MmuextOp, Reqs, 1, 0, ReservedDomainId.Self);
    }

    /// <summary>The machine address of entry <paramref name="slot"/> of table <paramref name="mfn"/>: mmu_update's ptr.</summary>
    public static ulong EntryPtr(ulong mfn, int slot) => (mfn << 12) + ((ulong)slot * 8);
}
