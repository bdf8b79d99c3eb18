using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Xtf.Core.Testing.Conformance;

/// <summary>
/// Reads SingleStepTests MOO files (gzip-compressed or plain). Layout: <c>"MOO "</c>, u32 header
/// length, header {u8 major, u8 minor, u16 reserved, u32 test count, char[4] cpu}, then chunks
/// <c>tag[4] u32 length data</c>. Unknown chunks are skipped by their length. Anything that does not
/// fit (a length running past its container, a missing chunk, fewer tests than the header declares)
/// raises <see cref="MooFormatException"/> naming the file, the test and the chunk.
/// </summary>
public static class MooReader
{
    /// <summary>Largest decompressed file accepted; the biggest upstream file is a few tens of MiB.</summary>
    public const int MaxDecompressedBytes = 512 << 20;

    /// <summary>Physical addresses are 24 bits wide on the 286 (16 MiB).</summary>
    public const uint AddressLimit = 1u << 24;

    private const int HashLength = 20;

    /// <summary>Reads and parses the file at <paramref name="path"/>; an I/O failure is a <see cref="ConformanceDataException"/>, bad content a <see cref="MooFormatException"/>.</summary>
    public static MooFile ReadFile(string path)
    {
        byte[] raw;
        try
        {
            raw = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new ConformanceDataException($"{path}: cannot read: {e.Message}", e);
        }

        return Read(raw, path);
    }

    /// <summary>Parses a whole file image; <paramref name="source"/> names it in error messages.</summary>
    public static MooFile Read(byte[] raw, string source)
    {
        byte[] data = IsGzip(raw) ? Decompress(raw, source) : raw;
        return Parse(data, source);
    }

    private static bool IsGzip(byte[] raw) => raw.Length >= 2 && raw[0] == 0x1F && raw[1] == 0x8B;

    private static byte[] Decompress(byte[] raw, string source)
    {
        try
        {
            using var input = new GZipStream(new MemoryStream(raw, writable: false), CompressionMode.Decompress);
            using var output = new MemoryStream();
            var buffer = new byte[81920];
            int n;
            while ((n = input.Read(buffer, 0, buffer.Length)) > 0)
            {
                if (output.Length + n > MaxDecompressedBytes)
                    throw new MooFormatException($"{source}: decompresses to more than {MaxDecompressedBytes >> 20} MiB");
                output.Write(buffer, 0, n);
            }

            // RFC 1952: the member ends with CRC32 and ISIZE (the length mod 2^32); a stream cut
            // inside that trailer still inflates completely, so check the length it records.
            uint isize = raw.Length < 18 ? 0 : BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(raw.Length - 4));
            if (raw.Length < 18 || isize != (uint)output.Length)
                throw new MooFormatException($"{source}: truncated gzip data (trailer records {isize} bytes, {output.Length} inflated)");
            return output.ToArray();
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException)
        {
            throw new MooFormatException($"{source}: corrupt or truncated gzip data ({e.Message})", e);
        }
    }

    private static MooFile Parse(byte[] data, string source)
    {
        var file = new Cursor(data, source, "file");
        if (file.Remaining < 8 || !file.PeekTag("MOO "))
            throw new MooFormatException($"{source}: not a MOO file (no \"MOO \" signature)");
        file.Skip(4);
        uint headerLength = file.U32("header length");
        if (headerLength < 12)
            throw file.Error($"header length {headerLength} is shorter than the 12-byte version 1 header");
        var header = file.Sub(headerLength, "header");
        byte major = header.U8("major version");
        byte minor = header.U8("minor version");
        header.Skip(2);
        uint declared = header.U32("test count");
        string cpu = Encoding.ASCII.GetString(header.Bytes(4, "cpu name")).TrimEnd('\0', ' ');
        if (major != 1)
            throw file.Error($"unsupported MOO version {major}.{minor} (this reader knows version 1)");

        var tests = new List<MooTest>((int)Math.Min(declared, 100_000));
        while (file.Remaining > 0)
        {
            var (tag, body) = file.Chunk();
            if (tag == "TEST")
                tests.Add(ReadTest(body, tests.Count));
        }

        if (tests.Count != declared)
            throw new MooFormatException($"{source}: header declares {declared} tests but the file holds {tests.Count} (truncated?)");
        return new MooFile(major, minor, cpu, tests);
    }

    private static MooTest ReadTest(Cursor test, int ordinal)
    {
        uint index = test.U32("test index");
        test = test.Rename($"test #{ordinal} (index {index})");
        string? name = null;
        byte[]? bytes = null, hash = null;
        MooState? initial = null, final = null;
        MooException? exception = null;
        while (test.Remaining > 0)
        {
            var (tag, body) = test.Chunk();
            switch (tag)
            {
                case "NAME":
                    Once(test, tag, name);
                    name = Encoding.UTF8.GetString(body.Bytes(body.U32("name length"), "name"));
                    body.End();
                    break;
                case "BYTS":
                    Once(test, tag, bytes);
                    bytes = body.Bytes(body.U32("byte count"), "instruction bytes");
                    body.End();
                    break;
                case "INIT":
                    Once(test, tag, initial);
                    initial = ReadState(body, initialState: true);
                    break;
                case "FINA":
                    Once(test, tag, final);
                    final = ReadState(body, initialState: false);
                    break;
                case "EXCP":
                    Once(test, tag, exception);
                    exception = new MooException(body.U8("exception vector"), body.U32("flag address"));
                    body.End();
                    break;
                case "HASH":
                    Once(test, tag, hash);
                    hash = body.Bytes(HashLength, "hash");
                    body.End();
                    break;
            }
        }

        return new MooTest(
            index,
            name ?? throw test.Error("no NAME chunk"),
            bytes ?? throw test.Error("no BYTS chunk"),
            initial ?? throw test.Error("no INIT chunk"),
            final ?? throw test.Error("no FINA chunk"),
            exception,
            hash ?? throw test.Error("no HASH chunk"));
    }

    private static void Once(Cursor at, string tag, object? existing)
    {
        if (existing is not null)
            throw at.Error($"second {tag} chunk");
    }

    private static MooState ReadState(Cursor state, bool initialState)
    {
        MooRegisters? registers = null;
        List<MooRamByte>? ram = null;
        while (state.Remaining > 0)
        {
            var (tag, body) = state.Chunk();
            if (tag == "REGS")
            {
                Once(body, tag, registers);
                registers = ReadRegisters(body);
            }
            else if (tag == "RAM ")
            {
                Once(body, tag, ram);
                ram = ReadRam(body);
            }
        }

        registers ??= initialState ? throw state.Error("no REGS chunk") : new MooRegisters();
        if (initialState && registers.Mask != (1 << MooRegisters.Count) - 1)
            throw state.Error($"initial REGS lists registers 0x{registers.Mask:x4}, not all {MooRegisters.Count}");
        return new MooState(registers, ram ?? []);
    }

    private static MooRegisters ReadRegisters(Cursor body)
    {
        ushort mask = body.U16("register mask");
        if (mask >> MooRegisters.Count != 0)
            throw body.Error($"register mask 0x{mask:x4} names registers beyond the {MooRegisters.Count} a 286 REGS chunk has");
        var registers = new MooRegisters();
        for (int r = 0; r < MooRegisters.Count; r++)
        {
            if ((mask & (1 << r)) != 0)
                registers[(MooRegister)r] = body.U16(MooRegisters.Name((MooRegister)r));
        }

        body.End();
        return registers;
    }

    private static List<MooRamByte> ReadRam(Cursor body)
    {
        uint count = body.U32("RAM entry count");
        if (count > body.Remaining / 5)
            throw body.Error($"declares {count} RAM entries ({(ulong)count * 5} bytes) but holds {body.Remaining} bytes");
        var ram = new List<MooRamByte>((int)count);
        for (uint i = 0; i < count; i++)
        {
            uint address = body.U32("RAM address");
            if (address >= AddressLimit)
                throw body.Error($"RAM address 0x{address:x} is beyond the 286's 24-bit address space");
            ram.Add(new MooRamByte(address, body.U8("RAM value")));
        }

        body.End();
        return ram;
    }

    /// <summary>A bounds-checked reader over one chunk; every overrun is a <see cref="MooFormatException"/>.</summary>
    private sealed class Cursor
    {
        private readonly byte[] data;
        private readonly int end;
        private readonly string source;
        private readonly string where;
        private int position;

        public Cursor(byte[] data, string source, string where)
            : this(data, 0, data.Length, source, where)
        {
        }

        private Cursor(byte[] data, int start, int end, string source, string where)
        {
            this.data = data;
            this.end = end;
            this.source = source;
            this.where = where;
            position = start;
        }

        public int Remaining => end - position;

        public Cursor Rename(string newWhere) => new(data, position, end, source, newWhere);

        public MooFormatException Error(string message) =>
            new($"{source}: {where}, offset {position}: {message}");

        public bool PeekTag(string tag) =>
            Remaining >= 4 && Encoding.ASCII.GetString(data, position, 4) == tag;

        public void Skip(int n)
        {
            Need(n, "padding");
            position += n;
        }

        public byte U8(string what)
        {
            Need(1, what);
            return data[position++];
        }

        public ushort U16(string what)
        {
            Need(2, what);
            ushort v = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(position));
            position += 2;
            return v;
        }

        public uint U32(string what)
        {
            Need(4, what);
            uint v = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(position));
            position += 4;
            return v;
        }

        public byte[] Bytes(uint count, string what)
        {
            if (count > (uint)Remaining)
                throw Error($"{what} needs {count} bytes but only {Remaining} remain");
            byte[] v = data.AsSpan(position, (int)count).ToArray();
            position += (int)count;
            return v;
        }

        public Cursor Sub(uint length, string what)
        {
            if (length > (uint)Remaining)
                throw Error($"{what} declares {length} bytes but only {Remaining} remain (truncated?)");
            var sub = new Cursor(data, position, position + (int)length, source, $"{where}, {what}");
            position += (int)length;
            return sub;
        }

        /// <summary>The next chunk: its tag and a cursor over its data.</summary>
        public (string Tag, Cursor Body) Chunk()
        {
            if (Remaining < 8)
                throw Error($"{Remaining} stray bytes where a chunk header (8 bytes) should be (truncated?)");
            string tag = Encoding.ASCII.GetString(data, position, 4);
            position += 4;
            uint length = U32($"{tag} chunk length");
            return (tag, Sub(length, $"{tag} chunk"));
        }

        /// <summary>Requires the chunk to be fully consumed: a fixed-layout chunk with extra bytes is malformed.</summary>
        public void End()
        {
            if (Remaining != 0)
                throw Error($"{Remaining} unexpected bytes after the chunk's data");
        }

        private void Need(int n, string what)
        {
            if (Remaining < n)
                throw Error($"{what} needs {n} bytes but only {Remaining} remain (truncated?)");
        }
    }
}
