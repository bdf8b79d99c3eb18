namespace Xtf.Core.Cpu.Interrupts;

/// <summary>How an event reaches the IDT; decides the gate-DPL check and the EXT bit (SDM vol. 3, 6.12.1.1, 6.13).</summary>
public enum EventKind
{
    /// <summary>A processor-detected exception (fault or trap).</summary>
    Exception,

    /// <summary>INT n, INT3, INTO: the gate DPL must be at least CPL.</summary>
    SoftwareInterrupt,

    /// <summary>ICEBP (INT1, opcode F1): no gate-DPL check, delivered like a hardware event.</summary>
    Icebp,

    /// <summary>An external (hardware) interrupt.</summary>
    External,
}
