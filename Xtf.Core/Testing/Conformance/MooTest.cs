namespace Xtf.Core.Testing.Conformance;

/// <summary>An <c>EXCP</c> chunk: the exception the instruction raised and where its FLAGS image was pushed.</summary>
/// <param name="Vector">The exception or interrupt number (u8), e.g. 13 for a real-mode segment overrun on the 286.</param>
/// <param name="FlagAddress">The physical address (u32) of the pushed FLAGS word, as the capture's bus cycle saw it.</param>
public readonly record struct MooException(byte Vector, uint FlagAddress);

/// <summary>One <c>TEST</c> chunk: an instruction (followed by HLT), its initial and final state.</summary>
public sealed class MooTest
{
    /// <summary>A test as <see cref="MooReader"/> assembles it from its subchunks; <paramref name="exception"/> is null without an EXCP chunk.</summary>
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

    /// <summary>The u32 index that opens the TEST chunk: the 0-based position in the file upstream writes.</summary>
    public uint Index { get; }

    /// <summary>Disassembly of the instruction under test.</summary>
    public string Name { get; }

    /// <summary>The instruction bytes, prefixes included, followed by the terminating HLT (F4).</summary>
    public byte[] Bytes { get; }

    /// <summary>The <c>INIT</c> chunk: the state loaded before the instruction.</summary>
    public MooState Initial { get; }

    /// <summary>The <c>FINA</c> chunk: the captured state after it; registers not listed are unchanged from <see cref="Initial"/>.</summary>
    public MooState Final { get; }

    /// <summary>The <c>EXCP</c> chunk, or null if the instruction raised no exception or interrupt.</summary>
    public MooException? Exception { get; }

    /// <summary>SHA-1 of the upstream test chunk; identifies the test in the revocation list.</summary>
    public byte[] Hash { get; }

    /// <summary><see cref="Hash"/> as 40 lower-case hex digits, the form revocation_list.txt lists.</summary>
    public string HashHex => Convert.ToHexStringLower(Hash);
}

/// <summary>A whole MOO file: its header and its tests in file order.</summary>
public sealed class MooFile
{
    /// <summary>A parsed file: the <c>MOO </c> header's version and CPU id, and its TEST chunks.</summary>
    public MooFile(byte major, byte minor, string cpu, IReadOnlyList<MooTest> tests)
    {
        Major = major;
        Minor = minor;
        Cpu = cpu;
        Tests = tests;
    }

    /// <summary>The header's u8 major format version; <see cref="MooReader"/> accepts only 1.</summary>
    public byte Major { get; }

    /// <summary>The header's u8 minor format version (1.0 and 1.1 files both read).</summary>
    public byte Minor { get; }

    /// <summary>The CPU the tests were captured from, as the header names it (e.g. <c>C286</c>).</summary>
    public string Cpu { get; }

    /// <summary>The TEST chunks in file order; as many as the header's test count.</summary>
    public IReadOnlyList<MooTest> Tests { get; }
}
