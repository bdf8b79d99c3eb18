using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Core.Xen;

namespace Xtf.Tests.Security;

/// <summary>
/// What each quirk does to the console of each test guarding it: the lines its xtf_failure calls
/// print (in order) and the fixed-hypervisor lines they stand in for (besides the result line).
/// The text is upstream XTF's failure message where upstream has a test (file and line cited);
/// where it has none, the test's own message (the doc comment of the test says why). A pointer
/// (<c>%p</c>) is written <see cref="Pointer"/>: the test's stub address is our layout, not a
/// fact of upstream's.
/// </summary>
internal static class QuirkFailureLines
{
    /// <summary>Stands for one <c>%p</c>: 8 hex digits in 32-bit environments, 16 in 64-bit ones.</summary>
    public const string Pointer = "<ptr>";

    /// <summary>The change a quirk makes to one instance's console.</summary>
    /// <param name="Failures">The lines added, in order (the xtf_failure text).</param>
    /// <param name="Replaced">The fixed hypervisor's lines they replace, in order (not counting <c>Test result: SUCCESS</c>).</param>
    public sealed record Change(IReadOnlyList<string> Failures, IReadOnlyList<string> Replaced);

    private static Change Adds(params string[] failures) => new(failures, []);

    /// <summary>The change <paramref name="quirk"/> makes to <paramref name="instance"/>.</summary>
    public static Change For(Quirk quirk, TestInstance instance)
    {
        var env = instance.Environment;
        var is64 = env is Environments.Hvm64 or Environments.Pv64;
        return (quirk, instance.Test.Name) switch
        {
            (Quirk.Xsa105, "xsa-105") => Adds(
                // No upstream test: testcases/xsa-105/Xsa105.cs, its Report message.
                [.. new[] { "lgdt", "lidt", "lmsw" }.Select(i => $"Fail: emulated {i} at CPL 3: expected #GP[0000], got nothing - vulnerable to XSA-105"),
                 "Fail: emulated hlt at CPL 3: expected #GP[0000], got #DB - vulnerable to XSA-105"]),
            (Quirk.Xsa106, "swint-emulation") => Adds([.. Swint106(is64)]),
            // Upstream tests/xsa-196/main.c:95 (test_main): the user int $8 reached the DPL 0 #DF
            // gate, instead of the xtf_success of main.c:91.
            (Quirk.Xsa106 or Quirk.Xsa196, "xsa-196") => new(["Fail: Userspace managed to invoke #DF"], ["Success: #DF DPL was checked correctly"]),
            (Quirk.Xsa110, "xsa-110") => Adds([.. Xsa110(is64)]),
            (Quirk.Xsa156, "swint-emulation") => Adds([.. Swint156()]),
            (Quirk.Xsa190, "fpu-exception-emulation") => Adds([.. Fpu190()]),
            // Upstream tests/xsa-123/main.c:46 (test_main), instead of the xtf_success of main.c:48.
            (Quirk.Xsa123, "xsa-123") => new(["  '%cs:mov %reg, %reg' clobbered hypervisor memory"], ["  '%cs:mov %reg, %reg' was emulated correctly"]),
            // Upstream tests/xsa-186/main.c:213 (test_main).
            (Quirk.Xsa186, "xsa-186") => Adds("Fail: 16bit code wasn't executed correctly"),
            // Upstream tests/xsa-191/main.c:51 and :83 (test_segment_use, test_segment_load): each
            // replaces the printk success line the fixed path prints (main.c:55 and :87).
            (Quirk.Xsa191, "xsa-191") => new(
                ["  Fail: Access via NULL segment didn't fault", "  Fail: Loaded selector from stale LDT"],
                ["  Success: Got #GP fault", "  Success: Got #GP fault"]),
            // Upstream tests/xsa-195 has no failure line (a vulnerable Xen crashes):
            // testcases/xsa-195/Xsa195.cs's message, the bit-test's access 2^45 - 8 bytes below
            // the operand (the displacement truncated), a #PF from the non-present mapping;
            // instead of upstream's xtf_success (main.c:84).
            (Quirk.Xsa195, "xsa-195") => new(["Fail: emulated bt took #PF[-d-sr-]: the access missed 1ffffffffff8"], ["Success: Not vulnerable to XSA-195"]),
            // Upstream tests/xsa-200/main.c:57 (test_main), instead of the xtf_success of main.c:60.
            (Quirk.Xsa200, "xsa-200") => new(["Fail: Hypervisor stack leaked into guest"], ["Success: Probably not vulnerable to XSA-200"]),
            // Upstream tests/xsa-204/main.c:79 (test_main), instead of the xtf_success of main.c:76.
            (Quirk.Xsa204, "xsa-204") => new(["Fail: Got #DB - vulnerable to XSA-204"], ["Success: Not vulnerable to XSA-204"]),
            // Upstream tests/xsa-213/main.c:136 and :142 (test_main), instead of the xtf_success of main.c:148.
            (Quirk.Xsa213, "xsa-213") => new(
                ["Fail: Multicall didn't finish at the iret", "Fail: xen_version hypercall run in user context"],
                ["Success: Not vulnerable to XSA-213"]),
            _ => throw new ArgumentException($"no expected failure lines for {Quirks.Name(quirk)} on {instance.Id}"),
        };
    }

    /// <summary>
    /// swint-emulation under XSA-106: at CPL 3 through DPL 0 gates, each forced-emulation form of
    /// int3, int $3, int $1 (and into, not in 64-bit mode) traps instead of #GP(IDT vector). The
    /// text is upstream's check() (tests/swint-emulation/main.c at 96c8b01^, lines 204-206,
    /// before the exinfo_t rewrite dropped the per-field form): "Fail %s:", "  Expected vec
    /// %2u[%04x] at %p", "       got vec %2u[%04x] at %p". The error code is the IDT selector
    /// error code, vector * 8 + 2 (SDM vol. 3, 6.13); icebp is absent (no DPL check, 6.12.1.1).
    /// </summary>
    private static IEnumerable<string> Swint106(bool is64)
    {
        byte[] vectors = is64 ? [3, 3, 1] : [3, 3, 1, 4];
        foreach (var v in vectors)
        {
            foreach (var prefix in new[] { "forced", "forced redundant" })
            {
                yield return $"Fail {prefix}:";
                yield return $"  Expected vec 13[{(v * 8) + 2:x4}] at {Pointer}";
                yield return $"       got vec {v,2}[0000] at {Pointer}";
            }
        }
    }

    /// <summary>
    /// swint-emulation under XSA-156's regression: the native (not forced) icebp, plain and with
    /// the redundant 67 prefix, in each of the three conditions where it traps (CPL 0 and CPL 3
    /// with present DPL 3 gates, CPL 3 with DPL 0 gates: ICEBP makes no DPL check), reports its
    /// #DB at the instruction instead of after it. Text as <see cref="Swint106"/>'s (upstream
    /// check(), tests/swint-emulation/main.c at 96c8b01^).
    /// </summary>
    private static IEnumerable<string> Swint156()
    {
        for (int condition = 0; condition < 3; condition++)
        {
            foreach (var prefix in new[] { "regular", "redundant" })
            {
                yield return $"Fail {prefix}:";
                yield return $"  Expected vec  1[0000] at {Pointer}";
                yield return $"       got vec  1[0000] at {Pointer}";
            }
        }
    }

    /// <summary>
    /// fpu-exception-emulation under XSA-190, the emulated half only: upstream run_sequence's
    /// xtf_failure (tests/fpu-exception-emulation/main.c:218, "  Expected %pe, got %pe (cr0:%s)",
    /// %pe of 0 printed "nothing" by arch/x86/decode.c's x86_decode_exinfo) for each row of its
    /// tables whose exception the pre-3ab81e0110 emulator did not raise: every x87 row expecting
    /// #NM, the two WAIT rows with MP and TS, every MMX row expecting #NM or #UD, and the SSE
    /// (CR4.OSFXSR) rows with TS and without EM (with EM, hvmemul_get_fpu refused SSE: #UD still).
    /// </summary>
    private static IEnumerable<string> Fpu190()
    {
        string[] ts = [" TS", " MP TS"], em = [" EM", " EM TS", " EM MP", " EM MP TS"];
        string Line(string exp, string cr0) => $"  Expected {exp}, got nothing (cr0:{cr0})";
        return [
            .. ts.Concat(em).Select(c => Line("#NM", c)),
            .. new[] { " MP TS", " EM MP TS" }.Select(c => Line("#NM", c)),
            .. ts.Select(c => Line("#NM", c)), .. em.Select(c => Line("#UD", c)),
            .. ts.Select(c => Line("#NM", c)),
        ];
    }

    /// <summary>
    /// xsa-110 (no upstream test: testcases/xsa-110/Xsa110.cs's message): each emulated far
    /// branch at CPL 3 to the kernel's CS loads it; 64-bit mode has no ptr16:32 forms (SDM vol. 2,
    /// JMP/CALL: invalid in 64-bit mode). The selector is the kernel CS with RPL 3.
    /// </summary>
    private static IEnumerable<string> Xsa110(bool is64)
    {
        string[] forms = is64 ? ["jmp m16:32", "call m16:32", "retf"] : ["jmp ptr16:32", "call ptr16:32", "jmp m16:32", "call m16:32", "retf"];
        var cs = is64 ? "000b" : "0013";
        return forms.Select(f => $"Fail: emulated {f} at CPL 3 to the kernel's CS loaded the kernel's code segment (CS {cs}) - vulnerable to XSA-110");
    }
}
