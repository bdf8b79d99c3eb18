namespace Xtf.Core.Testing.Conformance;

/// <summary>
/// How a masked test is run again to show that the mask's difference is the only one: the
/// capture is then matched exactly, with nothing else excused.
/// </summary>
[Flags]
public enum ConformanceRerun
{
    /// <summary>No re-run: the mask's predicate alone decides.</summary>
    None = 0,

    /// <summary>IVT entry 12 (#SS) is made a copy of entry 13, so our #SS lands where the 286's interrupt 13 did.</summary>
    StackFaultThroughVector13 = 1,

    /// <summary>
    /// Each LOCK prefix is replaced by the segment override the instruction already uses (its last
    /// override, else SS for a BP-based ModRM operand, else DS): same length, same meaning, no LOCK.
    /// </summary>
    LockAsSegmentOverride = 2,

    /// <summary>FLAGS bits 12-14 (IOPL, NT) are not compared.</summary>
    IgnoreIoplNt = 4,

    /// <summary>SI, DI and CX are not compared.</summary>
    IgnoreStringRegisters = 8,

    /// <summary>SP starts 2 higher, where the 286's POP r/m16 has moved it before its store faults.</summary>
    PopIncrementsSpFirst = 16,
}

/// <summary>
/// A documented difference between the 80286 the tests were captured from and the modern x86 we
/// emulate. It explains a test when <see cref="AppliesTo"/> holds for the test and its differences
/// and, if <see cref="Rerun"/> is set, the test passes when run again that way (alone, or together
/// with the re-runs of the other masks that apply to the test).
/// </summary>
public sealed record ConformanceMask(
    string Name,
    string Reason,
    Func<MooTest, IReadOnlyList<StateDifference>, bool> AppliesTo,
    ConformanceRerun Rerun = ConformanceRerun.None);
