namespace Xtf.Core.Cpu;

/// <summary>Architectural exception vectors (SDM vol. 3, table 6-1).</summary>
public enum X86Vector : byte
{
    DE = 0,
    DB = 1,
    NMI = 2,
    BP = 3,
    OF = 4,
    BR = 5,
    UD = 6,
    NM = 7,
    DF = 8,
    TS = 10,
    NP = 11,
    SS = 12,
    GP = 13,
    PF = 14,
    MF = 16,
    AC = 17,
    MC = 18,
    XM = 19,
    VE = 20,
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
