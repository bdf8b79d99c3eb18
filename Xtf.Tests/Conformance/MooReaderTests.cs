using NUnit.Framework;
using Xtf.Core.Testing.Conformance;

namespace Xtf.Tests.Conformance;

/// <summary>The MOO reader: the documented layout, unknown chunks skipped, every malformation a <see cref="MooFormatException"/>.</summary>
[TestFixture]
public sealed class MooReaderTests
{
    private static MooTest Sample(uint index) =>
        new RealModeCase($"add al,{index}")
            .Init(MooRegister.AX, 0x1234)
            .Code(0x04, (byte)index)
            .Final(MooRegister.AX, (ushort)(0x1234 + index))
            .Final(MooRegister.IP, 0x103)
            .FinalRam(0x20000, 0xAA)
            .Build(index);

    private static byte[] TwoTests() => MooBuilder.File([Sample(10), Sample(20)]);

    [Test(Description = "Header, tests, registers, RAM, exception and hash read back as written; unknown chunks are skipped")]
    public void RoundTrip()
    {
        var withException = new RealModeCase("int3") { Exception = new MooException(3, 0x200FE) }.Code(0xCC).Build(30);
        byte[] raw = MooBuilder.File([Sample(10), withException], null, MooBuilder.Chunk("META", [1, 2, 3]));

        var file = MooReader.Read(raw, "t.moo");

        Assert.That(file.Major, Is.EqualTo(1));
        Assert.That(file.Cpu, Is.EqualTo("C286"));
        Assert.That(file.Tests, Has.Count.EqualTo(2));
        var t = file.Tests[0];
        Assert.That(t.Index, Is.EqualTo(10));
        Assert.That(t.Name, Is.EqualTo("add al,10"));
        Assert.That(t.Bytes, Is.EqualTo(new byte[] { 0x04, 10, 0xF4 }));
        Assert.That(t.Initial.Registers.Mask, Is.EqualTo(0x3FFF));
        Assert.That(t.Initial.Registers[MooRegister.AX], Is.EqualTo(0x1234));
        Assert.That(t.Initial.Registers[MooRegister.CS], Is.EqualTo(0x1000));
        Assert.That(t.Initial.Ram[0], Is.EqualTo(new MooRamByte(0x10100, 0x04)));
        Assert.That(t.Final.Registers.Has(MooRegister.BX), Is.False);
        Assert.That(t.Final.Registers[MooRegister.AX], Is.EqualTo(0x1234 + 10));
        Assert.That(t.Final.Ram, Is.EqualTo(new[] { new MooRamByte(0x20000, 0xAA) }));
        Assert.That(t.Exception, Is.Null);
        Assert.That(file.Tests[1].Exception, Is.EqualTo(new MooException(3, 0x200FE)));
        Assert.That(file.Tests[1].HashHex, Is.EqualTo(new string('0', 40)));
    }

    [Test(Description = "A gzip-compressed file reads the same as the plain one")]
    public void GzipIsTransparent()
    {
        var file = MooReader.Read(MooBuilder.Gzip(TwoTests()), "t.moo.gz");
        Assert.That(file.Tests.Select(t => t.Index), Is.EqualTo(new uint[] { 10, 20 }));
    }

    [Test(Description = "Every truncation of a valid file is a MooFormatException, never an index or end-of-stream exception")]
    public void EveryTruncationIsAFormatError()
    {
        byte[] raw = TwoTests();
        for (int n = 0; n < raw.Length; n++)
        {
            var cut = raw.AsSpan(0, n).ToArray();
            Assert.That(() => MooReader.Read(cut, "cut.moo"), Throws.TypeOf<MooFormatException>(), $"truncated to {n} bytes");
        }
    }

    [Test(Description = "A truncated gzip stream is a MooFormatException")]
    public void TruncatedGzip()
    {
        byte[] gz = MooBuilder.Gzip(TwoTests());
        for (int n = 2; n < gz.Length; n += 7)
        {
            var cut = gz.AsSpan(0, n).ToArray();
            Assert.That(() => MooReader.Read(cut, "cut.moo.gz"), Throws.TypeOf<MooFormatException>(), $"gzip truncated to {n} bytes");
        }
    }

    [Test(Description = "Every single-byte corruption either reads or is a MooFormatException")]
    public void CorruptionNeverEscapesAsAHostException()
    {
        byte[] raw = TwoTests();
        var random = new Random(286);
        for (int n = 0; n < raw.Length; n++)
        {
            byte[] bad = (byte[])raw.Clone();
            bad[n] = (byte)random.Next(256);
            try
            {
                MooReader.Read(bad, "bad.moo");
            }
            catch (MooFormatException)
            {
            }
        }
    }

    [TestCase(new byte[] { (byte)'M', (byte)'O', (byte)'X', (byte)' ', 12, 0, 0, 0 }, "not a MOO file", TestName = "Wrong signature")]
    [TestCase(new byte[] { (byte)'M', (byte)'O', (byte)'O', (byte)' ', 4, 0, 0, 0, 1, 0, 0, 0 }, "header length 4", TestName = "Header shorter than 12 bytes")]
    [TestCase(new byte[] { (byte)'M', (byte)'O', (byte)'O', (byte)' ', 12, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, (byte)'C', (byte)'2', (byte)'8', (byte)'6' }, "unsupported MOO version 2", TestName = "Unknown major version")]
    public void MalformedHeader(byte[] raw, string message)
    {
        Assert.That(() => MooReader.Read(raw, "h.moo"), Throws.TypeOf<MooFormatException>().With.Message.Contains(message));
    }

    [Test(Description = "Fewer tests than the header declares: the file was cut at a chunk boundary")]
    public void DeclaredCountMismatch()
    {
        byte[] raw = MooBuilder.File([Sample(10)], declaredCount: 500);
        Assert.That(() => MooReader.Read(raw, "short.moo"),
            Throws.TypeOf<MooFormatException>().With.Message.Contains("declares 500 tests but the file holds 1"));
    }

    [Test(Description = "A RAM address beyond the 286's 24 address lines is rejected")]
    public void RamAddressBeyond16MiB()
    {
        var t = new RealModeCase("nop").Code(0x90).FinalRam(0x1000000, 1).Build();
        Assert.That(() => MooReader.Read(MooBuilder.File([t]), "ram.moo"),
            Throws.TypeOf<MooFormatException>().With.Message.Contains("24-bit"));
    }

    [Test(Description = "A REGS mask naming a 15th register is rejected")]
    public void RegisterMaskBeyond14()
    {
        byte[] regs = [.. MooBuilder.U16(0x4000), .. MooBuilder.U16(0)];
        byte[] test = [.. MooBuilder.U32(0), .. MooBuilder.Chunk("FINA", MooBuilder.Chunk("REGS", regs))];
        byte[] raw = [.. MooBuilder.File([], declaredCount: 1), .. MooBuilder.Chunk("TEST", test)];
        Assert.That(() => MooReader.Read(raw, "regs.moo"),
            Throws.TypeOf<MooFormatException>().With.Message.Contains("register mask 0x4000"));
    }

    [Test(Description = "A test without its HASH chunk is rejected, naming the test")]
    public void MissingChunk()
    {
        byte[] full = MooBuilder.Test(Sample(7));
        byte[] withoutHash = full.AsSpan(0, full.Length - 28).ToArray(); // HASH is the last chunk: 8 + 20 bytes
        byte[] raw = [.. MooBuilder.File([], declaredCount: 1), .. MooBuilder.Chunk("TEST", withoutHash)];
        Assert.That(() => MooReader.Read(raw, "nohash.moo"),
            Throws.TypeOf<MooFormatException>().With.Message.Contains("index 7").And.Message.Contains("no HASH chunk"));
    }
}
