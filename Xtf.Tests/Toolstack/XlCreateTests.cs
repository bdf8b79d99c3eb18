using NUnit.Framework;
using Xtf.Core.Xen.Toolstack;
using static Xtf.Tests.Toolstack.TestGuests;

namespace Xtf.Tests.Toolstack;

/// <summary>
/// <c>xl create</c> of our own small images (<see cref="TestGuests"/>): each boots to "Test result:
/// SUCCESS" in its PV console; every image or cfg a real toolstack refuses is a one-line build
/// failure (libelf's elf_xen_parse/elf_xen_addr_calc_check, libxl's cfg checks), never an exception.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class XlCreateTests
{
    private static readonly ToolstackOptions Options = new() { InstructionBudget = 2_000_000 };

    private static DomainExit Run(byte[] image, string cfg, ToolstackOptions? options = null) =>
        XlCreate.Run(image, DomainConfig.Parse(cfg), options ?? Options);

    private static void AssertSuccess(DomainExit exit, params string[] before)
    {
        var lines = exit.Console.Lines;
        Assert.That(exit.Reason, Is.EqualTo("domain shut down: poweroff"), string.Join("\n", lines));
        Assert.That(lines, Is.EqualTo(before.Append(Success).ToArray()));
    }

    private static void AssertBuildFailure(DomainExit exit, string contains)
    {
        Assert.That(exit.Reason, Does.StartWith("domain build failed: ").And.Contain(contains));
        Assert.That(exit.Reason, Does.Not.Contain("\n"), "one line");
        Assert.That(exit.Console.Lines, Is.Empty);
        Assert.That(exit.Instructions, Is.Zero);
    }

    [Test]
    public void PvhWithoutCmdline() => AssertSuccess(Run(Image(Kind.Pvh), "type = \"hvm\""), "EBX points at hvm_start_info");

    [Test]
    public void PvhWithCmdlineEchoesIt() =>
        AssertSuccess(Run(Image(Kind.Pvh), "type = \"hvm\"\ncmdline = \"hello world\""), "EBX points at hvm_start_info", "cmdline: hello world");

    [Test]
    public void PvhCmdlineJoinsExtra() =>
        AssertSuccess(Run(Image(Kind.Pvh), "type = \"hvm\"\ncmdline = \"a\"\nextra = \"b\""), "EBX points at hvm_start_info", "cmdline: a b");

    [Test]
    public void FirmwareEntryHasEbxZero() =>
        AssertSuccess(Run(Image(Kind.Firmware), "type = \"hvm\"", Options with { FirmwareEntry = true }), "firmware entry with EBX = 0");

    /// <summary>upstream's hvm64 images are elf32-x86-64: ELFCLASS32 with EM_X86_64; HVM takes them.</summary>
    [Test]
    public void Elf32X8664HvmImage() =>
        AssertSuccess(Run(Elf(Kind.Pvh, TestElf.EmX8664).Build(), "builder = \"hvm\""), "EBX points at hvm_start_info");

    [Test]
    public void Pv64() => AssertSuccess(Run(Image(Kind.Pv64), "type = \"pv\""), "start_info found");

    [Test]
    public void Pv32Pae() => AssertSuccess(Run(Image(Kind.Pv32Pae), "memory = 64"), "start_info found");

    [Test]
    public void SegmentOutsideRam()
    {
        var elf = Elf(Kind.Pvh) with { Segments = [new TestElf.Segment(0x1000000, new byte[16], 0x1000)] };
        AssertBuildFailure(Run(elf.Build(), "type = \"hvm\"\nmemory = 8"), "lies outside guest RAM");
    }

    [Test]
    public void OverlappingSegments()
    {
        var elf = Elf(Kind.Pvh) with { Segments = [Segment(Kind.Pvh), new TestElf.Segment(Base + 0x1000, new byte[16])] };
        AssertBuildFailure(Run(elf.Build(), "type = \"hvm\""), "overlaps the segment at 0x100000");
    }

    /// <summary>The top two frames of HVM RAM are the xenstore and console rings (DomainState.CreateHvm), which the image may not cover.</summary>
    [Test]
    public void SegmentOverTheSpecialPages()
    {
        const ulong top = 8ul << 20;
        var elf = Elf(Kind.Pvh) with { Segments = [Segment(Kind.Pvh), new TestElf.Segment(top - 0x1000, new byte[16], 0x1000)] };
        AssertBuildFailure(Run(elf.Build(), "type = \"hvm\"\nmemory = 8"), "below the special pages");
    }

    [Test]
    public void PvhWithoutPhys32Entry() =>
        AssertBuildFailure(Run(Image(Kind.Firmware), "type = \"hvm\""), "no XEN_ELFNOTE_PHYS32_ENTRY");

    [Test]
    public void PvWithoutXenNotes() =>
        AssertBuildFailure(Run(Image(Kind.Firmware), "type = \"pv\""), "no Xen ELF notes");

    [Test]
    public void Pv32WithoutPaeMode()
    {
        var elf = Elf(Kind.Pv32Pae) with { Notes = [.. Notes(Kind.Pv32Pae).Where(n => n.Type != XenElfNotes.PaeModeType)] };
        AssertBuildFailure(Run(elf.Build(), ""), "without XEN_ELFNOTE_PAE_MODE");
    }

    [Test]
    public void Elf64I386IsNoPvKernelType() =>
        AssertBuildFailure(Run((Elf(Kind.Pv64) with { Machine = TestElf.Em386 }).Build(), ""), "ELF64 image for i386");

    [Test]
    public void PvEntryAboveTheImage()
    {
        var elf = Elf(Kind.Pv64) with { Notes = [.. Notes(Kind.Pv64).Where(n => n.Type != XenElfNotes.EntryType), TestElf.Note.XenNumber(XenElfNotes.EntryType, ImageEnd + 0x1000)] };
        AssertBuildFailure(Run(elf.Build(), ""), "entry point 0x106000");
    }

    /// <summary>libelf elf_xen_addr_calc_check (xen/common/libelf/libelf-dominfo.c): virt_entry &lt; virt_kstart is "ELF start or entries are out of bounds".</summary>
    [Test]
    public void PvEntryBelowTheImage()
    {
        var elf = Elf(Kind.Pv64) with { Notes = [.. Notes(Kind.Pv64).Where(n => n.Type != XenElfNotes.EntryType), TestElf.Note.XenNumber(XenElfNotes.EntryType, 0x1000)] };
        AssertBuildFailure(Run(elf.Build(), ""), "entry point 0x1000");
    }

    /// <summary>libelf elf_xen_addr_calc_check_pvh: phys_entry outside [phys_kstart, phys_kend] is refused.</summary>
    [Test]
    public void PvhEntryOutsideTheImage()
    {
        var elf = Elf(Kind.Pvh) with { Notes = [TestElf.Note.XenNumber(XenElfNotes.Phys32EntryType, 0x1000, 4)] };
        AssertBuildFailure(Run(elf.Build(), "type = \"hvm\""), "entry point 0x1000");
    }

    [Test]
    public void FirmwareEntryOutsideRam() =>
        AssertBuildFailure(Run((Elf(Kind.Firmware) with { Entry = 0xFFFF_0000 }).Build(), "type = \"hvm\"", Options with { FirmwareEntry = true }), "entry point 0xffff0000 lies outside guest RAM");

    [TestCase("pvh")]
    [TestCase("hvm64")]
    public void UnknownType(string type) =>
        AssertBuildFailure(Run(Image(Kind.Pvh), $"type = \"{type}\""), $"cfg 'type = \"{type}\"': only \"hvm\" and \"pv\"");

    [TestCase(3)]
    [TestCase(4097)]
    public void MemoryOutOfRange(int mib) =>
        AssertBuildFailure(Run(Image(Kind.Pvh), $"type = \"hvm\"\nmemory = {mib}"), $"cfg 'memory = {mib}'");

    [Test]
    public void NotAnElfImage() => AssertBuildFailure(Run([1, 2, 3], "type = \"hvm\""), "not an ELF file");

    [Test]
    public void UnmodelledKeyAndVcpusAreNotices()
    {
        var exit = Run(Image(Kind.Pvh), "type = \"hvm\"\nnestedhvm = 1\nvcpus = 2");
        AssertSuccess(exit, "EBX points at hvm_start_info");
        Assert.That(exit.Notices, Is.EqualTo(new[]
        {
            "xl: cfg 'nestedhvm' is not modelled by this machine; the domain is built without it",
            "xl: cfg 'vcpus = 2': this machine models one vCPU; the domain gets 1",
        }));
    }

    [Test]
    public void NoticesAreKeptOnABuildFailure()
    {
        var exit = Run([0], "nestedhvm = 1");
        Assert.That(exit.Notices, Has.Count.EqualTo(1));
        Assert.That(exit.Reason, Does.StartWith("domain build failed"));
    }

    /// <summary>viridian is read (xl_parse.c, HVM only), so it is no notice; xl refuses an unknown group before building anything.</summary>
    [Test]
    public void ViridianIsModelled()
    {
        Assert.That(Run(Image(Kind.Pvh), "type = \"hvm\"\nviridian = [ \"base\", \"reference_tsc\" ]").Notices, Is.Empty);
        Assert.That(Run(Image(Kind.Pv64), "type = \"pv\"\nviridian = [ \"bogus\" ]").Notices, Is.Empty, "a PV domain ignores it");
        AssertBuildFailure(Run(Image(Kind.Pvh), "type = \"hvm\"\nviridian = [ \"base\", \"bogus\" ]"), "xl: unknown viridian enlightenment 'bogus'");
        AssertBuildFailure(Run(Image(Kind.Pvh), "type = \"hvm\"\nviridian = [ \"reference_tsc\" ]"), "libxl: base group not enabled");
    }

    /// <summary>msr_relaxed (xl.cfg, libxl arch_x86.msr_relaxed) is read, so it is no notice.</summary>
    [Test]
    public void MsrRelaxedIsModelled()
    {
        var exit = Run(Image(Kind.Pv64), "type = \"pv\"\nmsr_relaxed = 1");
        AssertSuccess(exit, "start_info found");
        Assert.That(exit.Notices, Is.Empty);
    }

    /// <summary>libelf's elf_load_binary zero-fills p_memsz in guest memory; a large bss in a large guest is valid and must not throw.</summary>
    [Test]
    public void HugeBssDoesNotThrow()
    {
        var elf = Elf(Kind.Pvh) with { Segments = [Segment(Kind.Pvh) with { MemorySize = 0xA000_0000 }] };
        Assert.DoesNotThrow(() => Run(elf.Build(), "type = \"hvm\"\nmemory = 4096"));
    }
}
