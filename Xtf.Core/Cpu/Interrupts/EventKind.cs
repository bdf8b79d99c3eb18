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

    /// <summary>
    /// A software interrupt injected by a hypervisor at VM entry (AMD SVM EVENTINJ type 4, APM
    /// vol. 2, 15.20): delivered as INT n is (EXT clear in error codes, saved RIP after the
    /// instruction) but the processor makes no gate-DPL check; the hypervisor's emulator must.
    /// </summary>
    InjectedSoftwareInterrupt,
}
