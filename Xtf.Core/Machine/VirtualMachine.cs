using Xtf.Core.Cpu;

namespace Xtf.Core.Machine;

/// <summary>
/// One emulated machine: physical memory, the I/O port bus with the debug console, one CPU and
/// the instance's console log. Instances share nothing mutable.
/// </summary>
public sealed class VirtualMachine
{
    /// <summary>Builds the machine from <paramref name="options"/> (defaults when null): RAM, the debug console on ports 0xE9 and 0x12, and a power-on CPU with the options' instruction budget. Builder writes to memory invalidate the CPU's decoded code.</summary>
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

    /// <summary>The options the machine was built with.</summary>
    public MachineOptions Options { get; }

    /// <summary>Guest physical memory.</summary>
    public PhysicalMemory Memory { get; }

    /// <summary>The I/O port bus.</summary>
    public IoPortBus Ports { get; }

    /// <summary>The machine's single processor (vCPU 0).</summary>
    public X86Cpu Cpu { get; }

    /// <summary>The debug console's log: bytes written to ports 0xE9 and 0x12 (console_io and the PV ring have logs of their own).</summary>
    public ConsoleLog Log { get; }
}
