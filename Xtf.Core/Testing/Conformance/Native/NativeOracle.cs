using Xtf.Core.Cpu;

namespace Xtf.Core.Testing.Conformance.Native;

/// <summary>
/// The silicon oracle (issue 17 item 4): each snippet runs on the host processor
/// (<see cref="HostProcessor"/>, 64-bit user mode) and on our CPU (<see cref="EmulatedProcessor"/>,
/// 64-bit mode at CPL 3 for even seeds and CPL 0 for odd ones, stepping or specialised tier) from
/// the same registers and arithmetic flags. All GPRs (RSP: left unchanged) and CF PF AF ZF SF OF DF
/// are compared, except the flags Iced reports undefined at the snippet's end and the registers the
/// generator records as undefined (<see cref="OracleSnippet"/>); a snippet differing only there is
/// counted as masked.
/// </summary>
public sealed class NativeOracle(HostProcessor host)
{
    private const uint Compared = RFlags.Status | RFlags.DF;
    private readonly EmulatedProcessor ours = new();

    /// <summary>Runs <paramref name="count"/> snippets of <paramref name="family"/> with seeds <paramref name="seed"/>, +1, ...</summary>
    public NativeOracleRun Run(OracleFamily family, int seed, int count)
    {
        var run = new NativeOracleRun(family.Name);
        for (int k = 0; k < count; k++)
        {
            int s = unchecked(seed + k);
            var (disagreement, mask) = RunOne(SnippetGenerator.Generate(family, s));
            if (disagreement is not null)
                run.Failures.Add(disagreement);
            else if (mask is not null)
                run.MaskCounts[mask] = run.MaskCounts.GetValueOrDefault(mask) + 1;
            else
                run.Passed++;
        }

        return run;
    }

    /// <summary>Name and reason of the mask for a snippet whose only differences are flags Iced reports undefined.</summary>
    public static readonly (string Name, string Reason) UndefinedFlags =
        ("undefined-flags", "only flags the instruction leaves undefined differ (Iced's Instruction.RflagsUndefined)");

    /// <summary>Name and reason of the mask for a snippet whose differences include a register the SDM leaves undefined.</summary>
    public static readonly (string Name, string Reason) UndefinedRegister =
        ("undefined-register", "a register the SDM leaves undefined for this start state differs (BSF/BSR destination with a zero source), and perhaps undefined flags");

    /// <summary>One snippet: a disagreement or null, and the name of the mask if only undefined bits differed.</summary>
    public (OracleDisagreement? Disagreement, string? Mask) RunOne(OracleSnippet snippet)
    {
        if (SnippetGuard.Check(snippet) is { } unsafeReason)
            throw new InvalidOperationException($"{snippet.Family} seed {snippet.Seed}: {unsafeReason}: {snippet.Disassembly}");
        int cpl = (snippet.Seed & 1) == 0 ? 3 : 0;
        var tier = (snippet.Seed >> 1 & 1) == 0 ? ExecutionTier.Stepping : ExecutionTier.Specialised;
        var native = host.Run(snippet.Bytes, snippet.Initial);
        var (state, fault) = ours.Run(snippet, cpl, tier);
        if (state is null)
            return (new OracleDisagreement(snippet, cpl, native, null, fault, ["ours raised " + fault]), null);

        var differences = new List<string>();
        var undefinedRegisters = snippet.UndefinedRegisters.Select(u => u.Register).ToHashSet();
        for (int r = 0; r < OracleState.Count; r++)
        {
            if (native.Gpr[r] == state.Gpr[r])
                continue;
            if (undefinedRegisters.Contains(r))
                continue;
            differences.Add(r == X86Cpu.RSP ? "rsp moved" : $"{OracleState.Name(r)} native {native.Gpr[r]:x16} ours {state.Gpr[r]:x16}");
        }

        uint flagDiff = (uint)(native.Rflags ^ state.Rflags) & Compared;
        uint definedDiff = flagDiff & ~snippet.UndefinedFlags;
        if (definedDiff != 0)
        {
            differences.Add($"flags {IcedFlags.Names(definedDiff)} native {IcedFlags.Names((uint)native.Rflags & definedDiff)} ours {IcedFlags.Names((uint)state.Rflags & definedDiff)}");
        }

        if (differences.Count > 0)
            return (new OracleDisagreement(snippet, cpl, native, state, null, differences), null);
        if (undefinedRegisters.Any(r => native.Gpr[r] != state.Gpr[r]))
            return (null, UndefinedRegister.Name);
        return (null, flagDiff != 0 ? UndefinedFlags.Name : null);
    }
}
