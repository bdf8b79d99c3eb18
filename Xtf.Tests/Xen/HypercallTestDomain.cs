using Xtf.Core.Machine;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Hypercalls;

namespace Xtf.Tests.Xen;

/// <summary>
/// A hypercall context over a 1 MiB machine whose CPU is at reset (CPL 0, paging off: guest
/// linear = guest physical), so a handler's copies reach RAM below 1 MiB and fail above it.
/// <see cref="Is64Bit"/> picks the native or compat ABI independently of the CPU's mode.
/// </summary>
internal sealed class HypercallTestDomain : IHypercallContext
{
    public const ulong RamTop = 1 << 20;

    /// <summary>Beyond the end of RAM: every copy from or to it is -EFAULT.</summary>
    public const ulong BeyondRam = 0xFFFF_F000;

    public HypercallTestDomain(bool is64Bit)
    {
        Vm = new VirtualMachine(new MachineOptions { MemoryBytes = RamTop });
        Guest = new GuestMemory(Vm.Cpu);
        Preemption = new HypercallPreemption(Vm.Cpu);
        Is64Bit = is64Bit;
    }

    public VirtualMachine Vm { get; }

    public GuestMemory Guest { get; }

    /// <summary>Preemption charges the CPU's budget (unlimited at reset, so nothing preempts unless a test sets it).</summary>
    public HypercallPreemption Preemption { get; }

    public ConsoleLog HypervisorConsole { get; } = new();

    public bool Is64Bit { get; }

    public bool IsHvm => true;

    public ShutdownReason? ShutdownCode { get; set; }

    /// <summary>Event channels and HVM parameters, built (pages at the top of RAM zeroed) on first use.</summary>
    public DomainState Domain => domain ??= DomainState.CreateHvm(Vm.Memory);

    private DomainState? domain;

    public ShutdownReason? ShutdownState { get; private set; }

    public void Shutdown(ShutdownReason reason) => ShutdownState ??= reason;

    public long Call(int number, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, ulong a4 = 0, ulong a5 = 0) =>
        HypercallTable.Dispatch(this, number, new HypercallArgs(a1, a2, a3, a4, a5));

    public void Write(ulong address, byte[] data) => Vm.Memory.Write(address, data);

    public byte[] Read(ulong address, int length)
    {
        var b = new byte[length];
        Vm.Memory.Read(address, b);
        return b;
    }

    public long ReadInt64(ulong address) => BitConverter.ToInt64(Read(address, 8));

    public int ReadInt32(ulong address) => BitConverter.ToInt32(Read(address, 4));
}
