using Xtf.Core.Cpu;
using Xtf.Core.Machine;

namespace Xtf.Core.Testing.Conformance;

/// <summary>
/// Runs SingleStepTests tests (80286, real mode) one at a time on a fresh <see cref="VirtualMachine"/>:
/// initial registers and RAM in, one instruction (with any exception it raises delivered through
/// the IVT, as the hardware did), final registers and RAM compared with the capture.
/// </summary>
public sealed class ConformanceRunner
{
    /// <summary>A 286 has 24 address lines: 16 MiB, all writable in the test rig.</summary>
    public const ulong MemoryBytes = 16ul << 20;

    /// <summary>
    /// FLAGS bits 12-15 (IOPL, NT, reserved) cannot be set in real mode on a 286; the initial
    /// values are what the rig gave LOADALL and the upstream README says to clear them.
    /// Bits 3 and 5 are reserved zeros and bit 1 a reserved one on every x86.
    /// </summary>
    private const ushort RealModeFlagsMask = 0x0FD7;

    /// <summary>Steps allowed for one instruction to complete (a REP string op may yield between iterations).</summary>
    private const int MaxStepsPerInstruction = 1 << 16;

    private static readonly (MooRegister Reg, int Gpr)[] GeneralRegisters =
    [
        (MooRegister.AX, X86Cpu.RAX), (MooRegister.BX, X86Cpu.RBX), (MooRegister.CX, X86Cpu.RCX), (MooRegister.DX, X86Cpu.RDX),
        (MooRegister.SP, X86Cpu.RSP), (MooRegister.BP, X86Cpu.RBP), (MooRegister.SI, X86Cpu.RSI), (MooRegister.DI, X86Cpu.RDI),
    ];

    private static readonly (MooRegister Reg, int Seg)[] SegmentRegisters =
    [
        (MooRegister.CS, X86Cpu.CS), (MooRegister.SS, X86Cpu.SS), (MooRegister.DS, X86Cpu.DS), (MooRegister.ES, X86Cpu.ES),
    ];

    private readonly ConformanceMetadata metadata;
    private readonly RevocationList revocations;

    /// <summary>A runner for one suite: <paramref name="metadata"/> gives the defined-flags masks (null: compare every FLAGS bit), <paramref name="revocations"/> the tests not to run (null: none).</summary>
    public ConformanceRunner(ConformanceMetadata? metadata = null, RevocationList? revocations = null)
    {
        this.metadata = metadata ?? ConformanceMetadata.Empty;
        this.revocations = revocations ?? RevocationList.Empty;
    }

    /// <summary>Runs every test of <paramref name="file"/> in file order and tallies them under <paramref name="path"/>.</summary>
    public ConformanceFileResult RunFile(string path, MooFile file)
    {
        var result = new ConformanceFileResult(path);
        foreach (var test in file.Tests)
            result.Add(Run(test));
        return result;
    }

    /// <summary>
    /// Runs one test: Revoked if its HASH is listed (not run); Passed if nothing differs; Masked if the first mask of
    /// <see cref="ConformanceMasks.All"/> that applies passes its re-run (or needs none), or else all applicable
    /// re-runs together pass; otherwise Failed. Any exception from the emulator other than
    /// <see cref="OutOfMemoryException"/> is a Failed outcome with <see cref="ConformanceOutcome.HostException"/> set.
    /// </summary>
    public ConformanceOutcome Run(MooTest test)
    {
        if (revocations.IsRevoked(test))
            return new ConformanceOutcome(test, ConformanceVerdict.Revoked, [], []);
        try
        {
            ushort flagsMask = metadata.FlagsMask(test.Bytes);
            var differences = Execute(test, flagsMask, ConformanceRerun.None);
            if (differences.Count == 0)
                return new ConformanceOutcome(test, ConformanceVerdict.Passed, differences, []);
            var applicable = ConformanceMasks.All.Where(m => m.AppliesTo(test, differences)).ToList();
            foreach (var mask in applicable)
            {
                if (mask.Rerun == ConformanceRerun.None || Execute(test, flagsMask, mask.Rerun).Count == 0)
                    return new ConformanceOutcome(test, ConformanceVerdict.Masked, differences, [mask]);
            }

            // Two or more 286 differences in one test (LOCK before a POPF, an SS string overrun):
            // all applicable re-runs at once.
            var rerunMasks = applicable.Where(m => m.Rerun != ConformanceRerun.None).ToList();
            if (rerunMasks.Count > 1)
            {
                var all = rerunMasks.Aggregate(ConformanceRerun.None, (r, m) => r | m.Rerun);
                if (Execute(test, flagsMask, all).Count == 0)
                    return new ConformanceOutcome(test, ConformanceVerdict.Masked, differences, rerunMasks);
            }

            return new ConformanceOutcome(test, ConformanceVerdict.Failed, differences, []);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new ConformanceOutcome(test, ConformanceVerdict.Failed, [], [], HostException: $"{e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>Runs the test and lists every difference from the captured final state.</summary>
    private static List<StateDifference> Execute(MooTest test, ushort flagsMask, ConformanceRerun rerun)
    {
        var vm = new VirtualMachine(new MachineOptions { MemoryBytes = MemoryBytes, InstructionBudget = 1 });
        var bus = new FloatingBus();
        vm.Ports.Attach(bus, DebugConsole.BochsPort, DebugConsole.XenPlatformPort);
        var cpu = vm.Cpu;
        var init = test.Initial.Registers;

        var expectedRam = LoadRam(vm, test);
        if ((rerun & ConformanceRerun.StackFaultThroughVector13) != 0)
            AliasVector(vm, expectedRam, from: 13, to: 12);
        if ((rerun & ConformanceRerun.LockAsSegmentOverride) != 0)
            ReplaceLock(vm, expectedRam, test);
        int framesBefore = vm.Memory.AllocatedFrames;

        cpu.ResetToRealMode();
        foreach (var (reg, gpr) in GeneralRegisters)
            cpu[gpr] = init[reg];
        foreach (var (reg, seg) in SegmentRegisters)
            cpu.Segments[seg].LoadReal(init[reg]);
        cpu.Rip = init[MooRegister.IP];
        if ((rerun & ConformanceRerun.PopIncrementsSpFirst) != 0)
            cpu[X86Cpu.RSP] = (ushort)(init[MooRegister.SP] + 2);
        cpu.Eflags = (uint)(init[MooRegister.Flags] & RealModeFlagsMask) | RFlags.Reserved1;
        cpu.UpdateMode();

        StopReason stop = Step(cpu, test);

        var differences = new List<StateDifference>();
        var fin = test.Final.Registers;
        foreach (var (reg, gpr) in GeneralRegisters)
        {
            if ((rerun & ConformanceRerun.IgnoreStringRegisters) == 0 || reg is not (MooRegister.SI or MooRegister.DI or MooRegister.CX))
                Compare(differences, reg, fin.GetOr(reg, init), (ushort)cpu[gpr]);
        }
        foreach (var (reg, seg) in SegmentRegisters)
            Compare(differences, reg, fin.GetOr(reg, init), cpu.Segments[seg].Selector);

        // Each test ends with HLT, which leaves IP one past itself: after an instruction that falls
        // through it is the F4 byte in the test's RAM; after a jump or an exception the rig injects
        // it at the first fetch of the new CS:IP (upstream README, "Test Methodology"). When the
        // instruction under test is HLT itself, it is also the terminating one.
        ushort ip = (ushort)cpu.Rip;
        if (stop != StopReason.Halted)
            ip++;
        Compare(differences, MooRegister.IP, fin.GetOr(MooRegister.IP, init), ip);

        ushort expectedFlags = fin.GetOr(MooRegister.Flags, init);
        if (!fin.Has(MooRegister.Flags))
            expectedFlags = (ushort)((expectedFlags & RealModeFlagsMask) | RFlags.Reserved1);
        ushort actualFlags = (ushort)cpu.Eflags;
        ushort compared = (rerun & ConformanceRerun.IgnoreIoplNt) != 0 ? (ushort)(flagsMask & ~0x7000) : flagsMask;
        if (((expectedFlags ^ actualFlags) & compared) != 0)
            differences.Add(new StateDifference("flags", expectedFlags, actualFlags, 2));

        CompareRam(differences, vm, test, expectedRam, flagsMask);
        if (vm.Memory.AllocatedFrames != framesBefore)
            differences.Add(new StateDifference("ram[elsewhere]", 0, (uint)(vm.Memory.AllocatedFrames - framesBefore), 4));
        if (stop == StopReason.TripleFault)
            differences.Add(new StateDifference("shutdown", 0, 1, 1));
        return differences;
    }

    /// <summary>
    /// Executes exactly one instruction (Budget = 1). A repeated string instruction may yield to
    /// the execution loop between iterations with IP still on it; the hardware ran it to completion
    /// before the HLT, so it is stepped on while it stays there with its count not exhausted.
    /// </summary>
    private static StopReason Step(X86Cpu cpu, MooTest test)
    {
        ushort cs = cpu.Segments[X86Cpu.CS].Selector;
        ulong ip = cpu.Rip;
        for (int n = 0; ; n++)
        {
            cpu.Budget = 1;
            var stop = cpu.Run();
            bool stillHere = cpu.Segments[X86Cpu.CS].Selector == cs && cpu.Rip == ip;
            if (stop != StopReason.BudgetExhausted || !stillHere || !IsRepeatedString(test.Bytes)
                || (ushort)cpu[X86Cpu.RCX] == 0 || n == MaxStepsPerInstruction)
                return stop;
        }
    }

    private static bool IsRepeatedString(ReadOnlySpan<byte> bytes)
    {
        int i = InstructionEncoding.OpcodeOffset(bytes);
        bool rep = bytes[..i].IndexOfAny((byte)0xF2, (byte)0xF3) >= 0;
        return rep && i < bytes.Length && bytes[i] is (>= 0x6C and <= 0x6F) or (>= 0xA4 and <= 0xA7) or (>= 0xAA and <= 0xAF);
    }

    private static void Compare(List<StateDifference> differences, MooRegister reg, ushort expected, ushort actual)
    {
        if (expected != actual)
            differences.Add(new StateDifference(MooRegisters.Name(reg), expected, actual, 2));
    }

    /// <summary>
    /// Writes the initial RAM and returns the expected final image (initial bytes overlaid with the
    /// final ones). Bytes only the final state names are touched too (with their unchanged value,
    /// zero) so every byte the test may see lives in an allocated frame and a write anywhere else
    /// shows up as a new frame.
    /// </summary>
    private static Dictionary<uint, byte> LoadRam(VirtualMachine vm, MooTest test)
    {
        var expected = new Dictionary<uint, byte>();
        foreach (var (address, value) in test.Initial.Ram)
        {
            vm.Memory.Write(address, [value]);
            expected[address] = value;
        }

        foreach (var (address, value) in test.Final.Ram)
        {
            if (!expected.ContainsKey(address))
                vm.Memory.Write(address, [0]);
            expected[address] = value;
        }

        return expected;
    }

    /// <summary>Rig setup for a re-run: IVT entry <paramref name="to"/> becomes a copy of entry <paramref name="from"/>.</summary>
    private static void AliasVector(VirtualMachine vm, Dictionary<uint, byte> expected, int from, int to)
    {
        for (uint k = 0; k < 4; k++)
        {
            byte b = expected.GetValueOrDefault(((uint)from * 4) + k);
            vm.Memory.Write(((uint)to * 4) + k, [b]);
            expected[((uint)to * 4) + k] = b;
        }
    }

    /// <summary>
    /// Rig setup for a re-run: each LOCK prefix byte becomes the segment override the instruction
    /// already uses, so length, IP and meaning stay the same without LOCK.
    /// </summary>
    private static void ReplaceLock(VirtualMachine vm, Dictionary<uint, byte> expected, MooTest test)
    {
        var init = test.Initial.Registers;
        uint cs = (uint)init[MooRegister.CS] << 4;
        ushort ip = init[MooRegister.IP];
        byte segment = InstructionEncoding.EffectiveSegmentPrefix(test.Bytes);
        int prefixes = InstructionEncoding.OpcodeOffset(test.Bytes);
        for (int k = 0; k < prefixes; k++)
        {
            if (test.Bytes[k] != 0xF0)
                continue;
            uint address = cs + (ushort)(ip + k);
            vm.Memory.Write(address, [segment]);
            expected[address] = segment;
        }
    }

    /// <summary>
    /// Compares every frame the test touches with the expected image. The FLAGS image an exception
    /// pushed is compared under the instruction's defined-flags mask (upstream README, "How do I
    /// handle instructions with undefined flags that generate exceptions?"). It is located from the
    /// captured final SS:SP (FLAGS sits above IP and CS): the capture's flag address is that of
    /// the bus cycle, rounded down to an even address when SP was odd.
    /// </summary>
    private static void CompareRam(List<StateDifference> differences, VirtualMachine vm, MooTest test, Dictionary<uint, byte> expected, ushort flagsMask)
    {
        var frames = new SortedSet<uint>();
        foreach (uint address in expected.Keys)
            frames.Add(address / PhysicalMemory.FrameSize);
        uint flagsLow = uint.MaxValue, flagsHigh = uint.MaxValue;
        if (test.Exception is not null)
        {
            var init = test.Initial.Registers;
            var fin = test.Final.Registers;
            uint ss = (uint)fin.GetOr(MooRegister.SS, init) << 4;
            ushort sp = fin.GetOr(MooRegister.SP, init);
            flagsLow = ss + (ushort)(sp + 4);
            flagsHigh = ss + (ushort)(sp + 5);
        }

        Span<byte> actual = stackalloc byte[PhysicalMemory.FrameSize];
        foreach (uint frame in frames)
        {
            uint frameBase = frame * PhysicalMemory.FrameSize;
            vm.Memory.Read(frameBase, actual);
            for (int i = 0; i < actual.Length; i++)
            {
                uint address = frameBase + (uint)i;
                byte want = expected.GetValueOrDefault(address);
                byte mask = address == flagsLow ? (byte)flagsMask : address == flagsHigh ? (byte)(flagsMask >> 8) : (byte)0xFF;
                if (((want ^ actual[i]) & mask) != 0)
                    differences.Add(new StateDifference($"ram[{address:x6}]", want, actual[i], 1));
            }
        }
    }
}
