namespace Xtf.Core.Xen;

/// <summary>
/// A historical hypervisor bug, re-created on request in the path it lived in only: the
/// instruction emulator (DESIGN.md section 6), or for XSA-213 the PV multicall path. Each security test names the quirk it guards: with the quirk on it must
/// report FAILURE, with it off SUCCESS.
/// </summary>
public enum Quirk
{
    /// <summary>XSA-105: HLT, LGDT, LIDT and LMSW emulated without the CPL 0 check.</summary>
    Xsa105,

    /// <summary>XSA-106 (fix 346d454556): protected-mode software interrupts injected with no IDT or IOPL check at all.</summary>
    Xsa106,

    /// <summary>XSA-110 (fix 82fa062345): far CALL/JMP/RET load CS checking only DPL = RPL (nonconforming), the CPL staying as SS has it.</summary>
    Xsa110,

    /// <summary>XSA-123 (fix e38350a3a0): a segment override on a MOV with a ModRM register operand overwrites the low half of the operand's register pointer, so it is read and written in hypervisor memory.</summary>
    Xsa123,

    /// <summary>XSA-156 (regression of bd2239d9fa, fixed by 0747bc8b4d): the #DB Xen intercepts from a guest's ICEBP is re-injected as a hardware exception, with fault semantics: the frame saves the ICEBP's own address.</summary>
    Xsa156,

    /// <summary>XSA-186 (0640ffb6, fixed by e9575f980d): 16-bit code is fetched from IP[15:0], and the written-back IP keeps EIP[31:16] of the entry EIP.</summary>
    Xsa186,

    /// <summary>XSA-190 (fix 3ab81e0110): the emulator runs x87, WAIT, MMX and SSE instructions without the guest's CR0.TS and CR0.EM checks (SSE still #UD with CR0.EM set).</summary>
    Xsa190,

    /// <summary>XSA-191: null segment registers are used as if they were usable.</summary>
    Xsa191,

    /// <summary>XSA-195: BT/BTS/BTR/BTC with a 64-bit negative bit offset truncate the memory displacement.</summary>
    Xsa195,

    /// <summary>XSA-196: IDT entries are sized by the width of the code, not by IA-32e mode (8 bytes for compatibility-mode code).</summary>
    Xsa196,

    /// <summary>XSA-200: CMPXCHG8B honours an operand-size prefix (0x66) and compares 4 bytes only.</summary>
    Xsa200,

    /// <summary>XSA-204: the single-step trap after SYSCALL uses TF from before IA32_FMASK was applied.</summary>
    Xsa204,

    /// <summary>XSA-213: a multicall batch goes on after a HYPERVISOR_iret entry, running the rest on the context the iret switched to.</summary>
    Xsa213,
}

/// <summary>The names users select quirks by (<c>xsa-106</c>, ...).</summary>
public static class Quirks
{
    private static readonly Dictionary<string, Quirk> ByName = Enum.GetValues<Quirk>().ToDictionary(Name, q => q, StringComparer.OrdinalIgnoreCase);

    /// <summary>No quirk: the fixed hypervisor (one shared instance, so settings records compare equal).</summary>
    public static IReadOnlySet<Quirk> None { get; } = System.Collections.Frozen.FrozenSet<Quirk>.Empty;

    /// <summary>Every quirk, by name, in number order.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Enum.GetValues<Quirk>().Select(Name)];

    /// <summary>The user-facing name: <c>Xsa106</c> is <c>xsa-106</c>.</summary>
    public static string Name(Quirk quirk) => "xsa-" + quirk.ToString()[3..];

    /// <summary>Parses a quirk name; false for a name that is not one.</summary>
    public static bool TryParse(string name, out Quirk quirk) => ByName.TryGetValue(name.Trim(), out quirk);
}
