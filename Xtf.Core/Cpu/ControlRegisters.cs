namespace Xtf.Core.Cpu;

/// <summary>CR0 bits (SDM vol. 3, 2.5).</summary>
public static class Cr0
{
    public const ulong PE = 1ul << 0;
    public const ulong MP = 1ul << 1;
    public const ulong EM = 1ul << 2;
    public const ulong TS = 1ul << 3;
    public const ulong ET = 1ul << 4;
    public const ulong NE = 1ul << 5;
    public const ulong WP = 1ul << 16;
    public const ulong AM = 1ul << 18;
    public const ulong NW = 1ul << 29;
    public const ulong CD = 1ul << 30;
    public const ulong PG = 1ul << 31;
}

/// <summary>CR4 bits (SDM vol. 3, 2.5).</summary>
public static class Cr4
{
    public const ulong VME = 1ul << 0;
    public const ulong PVI = 1ul << 1;
    public const ulong TSD = 1ul << 2;
    public const ulong DE = 1ul << 3;
    public const ulong PSE = 1ul << 4;
    public const ulong PAE = 1ul << 5;
    public const ulong MCE = 1ul << 6;
    public const ulong PGE = 1ul << 7;
    public const ulong PCE = 1ul << 8;
    public const ulong OSFXSR = 1ul << 9;
    public const ulong OSXMMEXCPT = 1ul << 10;
    public const ulong UMIP = 1ul << 11;
    public const ulong FSGSBASE = 1ul << 16;
    public const ulong OSXSAVE = 1ul << 18;
    public const ulong SMEP = 1ul << 20;
    public const ulong SMAP = 1ul << 21;
}

/// <summary>EFER bits (SDM vol. 3, 2.2.1).</summary>
public static class Efer
{
    public const ulong SCE = 1ul << 0;
    public const ulong LME = 1ul << 8;
    public const ulong LMA = 1ul << 10;
    public const ulong NXE = 1ul << 11;
}
