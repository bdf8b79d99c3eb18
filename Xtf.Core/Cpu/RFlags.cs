namespace Xtf.Core.Cpu;

/// <summary>EFLAGS bits (SDM vol. 1, 3.4.3).</summary>
public static class RFlags
{
    /// <summary>CF (bit 0): carry flag.</summary>
    public const uint CF = 1u << 0;
    /// <summary>Bit 1: reserved, always reads as 1.</summary>
    public const uint Reserved1 = 1u << 1;
    /// <summary>PF (bit 2): parity flag (even parity of the result's low byte).</summary>
    public const uint PF = 1u << 2;
    /// <summary>AF (bit 4): auxiliary carry flag (carry out of bit 3, for BCD).</summary>
    public const uint AF = 1u << 4;
    /// <summary>ZF (bit 6): zero flag.</summary>
    public const uint ZF = 1u << 6;
    /// <summary>SF (bit 7): sign flag (the result's most significant bit).</summary>
    public const uint SF = 1u << 7;
    /// <summary>TF (bit 8): trap flag; single-step #DB after each instruction.</summary>
    public const uint TF = 1u << 8;
    /// <summary>IF (bit 9): interrupt enable flag (maskable external interrupts).</summary>
    public const uint IF = 1u << 9;
    /// <summary>DF (bit 10): direction flag; string instructions decrement when set.</summary>
    public const uint DF = 1u << 10;
    /// <summary>OF (bit 11): overflow flag (signed overflow).</summary>
    public const uint OF = 1u << 11;
    /// <summary>IOPL (bits 13:12): I/O privilege level; IN/OUT/CLI/STI at CPL &gt; IOPL consult the TSS I/O bitmap or fault (SDM vol. 1, 18.5.1).</summary>
    public const uint IOPL = 3u << 12;
    /// <summary>Bit position of the IOPL field: <c>(flags &amp; IOPL) &gt;&gt; IoplShift</c> is the level 0-3.</summary>
    public const int IoplShift = 12;
    /// <summary>NT (bit 14): nested task; IRET performs a task switch back through the TSS back link.</summary>
    public const uint NT = 1u << 14;
    /// <summary>RF (bit 16): resume flag; suppresses instruction-breakpoint #DB for one instruction.</summary>
    public const uint RF = 1u << 16;
    /// <summary>VM (bit 17): virtual-8086 mode.</summary>
    public const uint VM = 1u << 17;
    /// <summary>AC (bit 18): alignment check (with CR0.AM, at CPL 3), or SMAP override at CPL &lt; 3.</summary>
    public const uint AC = 1u << 18;
    /// <summary>VIF (bit 19): virtual interrupt flag (with CR4.VME or CR4.PVI).</summary>
    public const uint VIF = 1u << 19;
    /// <summary>VIP (bit 20): virtual interrupt pending (with CR4.VME or CR4.PVI).</summary>
    public const uint VIP = 1u << 20;
    /// <summary>ID (bit 21): CPUID-supported flag; software can toggle it only if CPUID exists.</summary>
    public const uint ID = 1u << 21;

    /// <summary>The six arithmetic status flags.</summary>
    public const uint Status = CF | PF | AF | ZF | SF | OF;
}
