namespace Xtf.Core.Cpu;

/// <summary>Architectural exception vectors (SDM vol. 3, table 6-1).</summary>
public enum X86Vector : byte
{
    /// <summary>Vector 0, #DE: divide error (fault, no error code).</summary>
    DE = 0,
    /// <summary>Vector 1, #DB: debug exception (fault or trap depending on the condition, no error code).</summary>
    DB = 1,
    /// <summary>Vector 2: non-maskable interrupt.</summary>
    NMI = 2,
    /// <summary>Vector 3, #BP: breakpoint from INT3 (trap, no error code).</summary>
    BP = 3,
    /// <summary>Vector 4, #OF: overflow from INTO (trap, no error code; INTO is #UD in 64-bit mode).</summary>
    OF = 4,
    /// <summary>Vector 5, #BR: BOUND range exceeded (fault, no error code).</summary>
    BR = 5,
    /// <summary>Vector 6, #UD: invalid opcode (fault, no error code).</summary>
    UD = 6,
    /// <summary>Vector 7, #NM: device not available (fault, no error code; CR0.TS/EM).</summary>
    NM = 7,
    /// <summary>Vector 8, #DF: double fault (abort, error code always 0).</summary>
    DF = 8,
    /// <summary>Vector 10, #TS: invalid TSS (fault, selector error code).</summary>
    TS = 10,
    /// <summary>Vector 11, #NP: segment not present (fault, selector error code).</summary>
    NP = 11,
    /// <summary>Vector 12, #SS: stack-segment fault (fault, selector error code or 0).</summary>
    SS = 12,
    /// <summary>Vector 13, #GP: general protection (fault, selector error code or 0).</summary>
    GP = 13,
    /// <summary>Vector 14, #PF: page fault (fault, page-fault error code; CR2 holds the linear address).</summary>
    PF = 14,
    /// <summary>Vector 16, #MF: x87 floating-point error (fault, no error code).</summary>
    MF = 16,
    /// <summary>Vector 17, #AC: alignment check (fault, error code 0).</summary>
    AC = 17,
    /// <summary>Vector 18, #MC: machine check (abort, no error code).</summary>
    MC = 18,
    /// <summary>Vector 19, #XM: SIMD floating-point exception (fault, no error code).</summary>
    XM = 19,
    /// <summary>Vector 20, #VE: virtualization exception (fault, no error code).</summary>
    VE = 20,
    /// <summary>Vector 21, #CP: control-protection exception (CET; fault, error code).</summary>
    CP = 21,
}

/// <summary>Facts about vectors that delivery needs.</summary>
public static class X86VectorInfo
{
    /// <summary>SDM table 6-1: the exceptions that push an error code.</summary>
    public static bool HasErrorCode(int vector) =>
        vector is 8 or 10 or 11 or 12 or 13 or 14 or 17 or 21;

    /// <summary>SDM table 6-5: contributory exceptions (#DE, #TS, #NP, #SS, #GP).</summary>
    public static bool IsContributory(int vector) => vector is 0 or 10 or 11 or 12 or 13;

    /// <summary>Fault-class exceptions (SDM vol. 3, table 6-1): the saved RIP is the faulting instruction's.</summary>
    public static bool IsFaultClass(int vector) => vector is 0 or 5 or 6 or 7 or (>= 10 and <= 14) or 16 or 17 or 19 or 20 or 21;
}
