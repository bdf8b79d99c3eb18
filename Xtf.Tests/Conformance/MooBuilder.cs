using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Xtf.Core.Testing.Conformance;

namespace Xtf.Tests.Conformance;

/// <summary>Writes MOO files (the layout of ../shared/conformance/80286/README.md) for reader and runner tests.</summary>
internal static class MooBuilder
{
    public static byte[] File(IReadOnlyList<MooTest> tests, uint? declaredCount = null, params byte[][] extraTopChunks)
    {
        var body = new MemoryStream();
        Write(body, "MOO ", [1, 0, 0, 0, .. U32(declaredCount ?? (uint)tests.Count), .. "C286"u8.ToArray()]);
        foreach (var extra in extraTopChunks)
            body.Write(extra);
        foreach (var t in tests)
            Write(body, "TEST", Test(t));
        return body.ToArray();
    }

    public static byte[] Gzip(byte[] raw)
    {
        var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
            gz.Write(raw);
        return output.ToArray();
    }

    public static byte[] Chunk(string tag, byte[] data)
    {
        var s = new MemoryStream();
        Write(s, tag, data);
        return s.ToArray();
    }

    public static byte[] Test(MooTest t)
    {
        var s = new MemoryStream();
        s.Write(U32(t.Index));
        Write(s, "GMET", new byte[10]); // an unknown chunk: readers skip it
        byte[] name = Encoding.UTF8.GetBytes(t.Name);
        Write(s, "NAME", [.. U32((uint)name.Length), .. name]);
        Write(s, "BYTS", [.. U32((uint)t.Bytes.Length), .. t.Bytes]);
        Write(s, "INIT", State(t.Initial));
        Write(s, "FINA", State(t.Final));
        if (t.Exception is { } e)
            Write(s, "EXCP", [e.Vector, .. U32(e.FlagAddress)]);
        Write(s, "HASH", t.Hash);
        return s.ToArray();
    }

    public static byte[] State(MooState state)
    {
        var regs = new MemoryStream();
        regs.Write(U16(state.Registers.Mask));
        for (int r = 0; r < MooRegisters.Count; r++)
        {
            if (state.Registers.Has((MooRegister)r))
                regs.Write(U16(state.Registers[(MooRegister)r]));
        }

        var ram = new MemoryStream();
        ram.Write(U32((uint)state.Ram.Count));
        foreach (var (address, value) in state.Ram)
        {
            ram.Write(U32(address));
            ram.WriteByte(value);
        }

        return [.. Chunk("REGS", regs.ToArray()), .. Chunk("RAM ", ram.ToArray()), .. Chunk("QUEU", U32(0))];
    }

    public static byte[] U16(ushort v)
    {
        var b = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, v);
        return b;
    }

    public static byte[] U32(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        return b;
    }

    private static void Write(Stream s, string tag, byte[] data)
    {
        s.Write(Encoding.ASCII.GetBytes(tag));
        s.Write(U32((uint)data.Length));
        s.Write(data);
    }
}

/// <summary>
/// A real-mode test written by hand: code at CS:IP, registers, and the expected final state worked
/// out from the SDM. Unlisted registers are zero (SP 0x100, flags 0x0002).
/// </summary>
internal sealed class RealModeCase
{
    private readonly MooRegisters initial = new();
    private readonly MooRegisters final = new();
    private readonly List<MooRamByte> initialRam = [];
    private readonly List<MooRamByte> finalRam = [];
    private byte[] code = [];

    public RealModeCase(string name)
    {
        Name = name;
        for (int r = 0; r < MooRegisters.Count; r++)
            initial[(MooRegister)r] = 0;
        initial[MooRegister.CS] = 0x1000;
        initial[MooRegister.SS] = 0x2000;
        initial[MooRegister.DS] = 0x3000;
        initial[MooRegister.ES] = 0x4000;
        initial[MooRegister.SP] = 0x100;
        initial[MooRegister.IP] = 0x100;
        initial[MooRegister.Flags] = 0x0002;
    }

    public string Name { get; }

    public MooException? Exception { get; set; }

    /// <summary>The instruction; HLT is appended, as in every SingleStepTests test.</summary>
    public RealModeCase Code(params byte[] bytes)
    {
        code = [.. bytes, 0xF4];
        return this;
    }

    public RealModeCase Init(MooRegister r, ushort value)
    {
        initial[r] = value;
        return this;
    }

    public RealModeCase Final(MooRegister r, ushort value)
    {
        final[r] = value;
        return this;
    }

    public RealModeCase InitRam(uint address, params byte[] values)
    {
        for (int k = 0; k < values.Length; k++)
            initialRam.Add(new MooRamByte(address + (uint)k, values[k]));
        return this;
    }

    public RealModeCase FinalRam(uint address, params byte[] values)
    {
        for (int k = 0; k < values.Length; k++)
            finalRam.Add(new MooRamByte(address + (uint)k, values[k]));
        return this;
    }

    public MooTest Build(uint index = 0)
    {
        uint at = ((uint)initial[MooRegister.CS] << 4) + initial[MooRegister.IP];
        var ram = code.Select((b, k) => new MooRamByte(at + (uint)k, b)).Concat(initialRam).ToList();
        return new(index, Name, code, new MooState(initial, ram), new MooState(final, finalRam), Exception, new byte[20]);
    }
}
