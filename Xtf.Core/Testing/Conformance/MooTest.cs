namespace Xtf.Core.Testing.Conformance;

/// <summary>An <c>EXCP</c> chunk: the exception the instruction raised and where its FLAGS image was pushed.</summary>
public readonly record struct MooException(byte Vector, uint FlagAddress);

/// <summary>One <c>TEST</c> chunk: an instruction (followed by HLT), its initial and final state.</summary>
public sealed class MooTest
{
    public MooTest(uint index, string name, byte[] bytes, MooState initial, MooState final, MooException? exception, byte[] hash)
    {
        Index = index;
        Name = name;
        Bytes = bytes;
        Initial = initial;
        Final = final;
        Exception = exception;
        Hash = hash;
    }

    public uint Index { get; }

    /// <summary>Disassembly of the instruction under test.</summary>
    public string Name { get; }

    /// <summary>The instruction bytes, prefixes included, followed by the terminating HLT (F4).</summary>
    public byte[] Bytes { get; }

    public MooState Initial { get; }

    public MooState Final { get; }

    public MooException? Exception { get; }

    /// <summary>SHA-1 of the upstream test chunk; identifies the test in the revocation list.</summary>
    public byte[] Hash { get; }

    public string HashHex => Convert.ToHexStringLower(Hash);
}

/// <summary>A whole MOO file: its header and its tests in file order.</summary>
public sealed class MooFile
{
    public MooFile(byte major, byte minor, string cpu, IReadOnlyList<MooTest> tests)
    {
        Major = major;
        Minor = minor;
        Cpu = cpu;
        Tests = tests;
    }

    public byte Major { get; }

    public byte Minor { get; }

    /// <summary>The CPU the tests were captured from, as the header names it (e.g. <c>C286</c>).</summary>
    public string Cpu { get; }

    public IReadOnlyList<MooTest> Tests { get; }
}
