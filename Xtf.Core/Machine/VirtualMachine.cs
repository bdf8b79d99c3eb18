using Xtf.Core.Cpu;

namespace Xtf.Core.Machine;

/// <summary>
/// One emulated machine: physical memory, the I/O port bus with the debug console, one CPU and
/// the instance's console log. Instances share nothing mutable.
/// </summary>
public sealed class VirtualMachine
{
    public VirtualMachine(MachineOptions? options = null)
    {
        Options = options ?? new MachineOptions();
        Memory = new PhysicalMemory(Options.MemoryBytes);
        Ports = new IoPortBus();
        Log = new ConsoleLog();
        var console = new DebugConsole(Log);
        Ports.Attach(console, DebugConsole.BochsPort, DebugConsole.XenPlatformPort);
        Cpu = new X86Cpu(Memory, Ports) { Budget = Options.InstructionBudget };
        Memory.FrameWritten += Cpu.InvalidateCode;
    }

    public MachineOptions Options { get; }

    public PhysicalMemory Memory { get; }

    public IoPortBus Ports { get; }

    public X86Cpu Cpu { get; }

    public ConsoleLog Log { get; }
}
