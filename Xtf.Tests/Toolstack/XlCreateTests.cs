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
}
