using NUnit.Framework;
using Xtf.Core.Xen.Pv.Descriptors;

namespace Xtf.Tests.Xen.Pv;

/// <summary>
/// check_descriptor (xen/arch/x86/pv/descriptor-tables.c): which descriptors a PV guest may put
/// in its GDT/LDT and the fixups Xen applies. Descriptor words: a = bits 31:0, b = bits 63:32;
/// b: P bit 15, DPL bits 14:13, S bit 12, type bits 11:8, L bit 21, G bit 23.
/// </summary>
public sealed class DescriptorCheckTests
{
    private static (bool Ok, ulong Result) Check(ulong d, bool compat)
    {
        bool ok = DescriptorCheck.Check(ref d, compat);
        return (ok, d);
    }

    /// <summary>"A not-present descriptor will always fault, so is safe": a DPL 0 data segment with P = 0 stays as it is.</summary>
    [TestCase(false)]
    [TestCase(true)]
    public void NotPresentDescriptorIsAcceptedUnchanged(bool compat) =>
        Assert.That(Check(0x00CF13000000FFFF, compat), Is.EqualTo((true, 0x00CF13000000FFFFul)));

    /// <summary>
    /// DPL below the guest kernel's RPL is raised to it: flat data 0x00CF93000000FFFF (DPL 0)
    /// becomes DPL 3 for pv64 (b = 0x00CFF300) and DPL 1 for compat (b = 0x00CFB300).
    /// </summary>
    [TestCase(false, 0x00CFF3000000FFFFul)]
    [TestCase(true, 0x00CFB3000000FFFFul)]
    public void CodeAndDataDplIsRaisedToTheKernelRpl(bool compat, ulong expected) =>
        Assert.That(Check(0x00CF93000000FFFF, compat), Is.EqualTo((true, expected)));

    [TestCase(false)]
    [TestCase(true)]
    public void Dpl3DataIsUnchanged(bool compat) =>
        Assert.That(Check(0x00CFF3000000FFFF, compat), Is.EqualTo((true, 0x00CFF3000000FFFFul)));

    /// <summary>A 64-bit code segment (L = 1): refused for a compat guest; pv64 takes it with DPL 3.</summary>
    [Test]
    public void LongModeCodeSegmentIsRefusedForCompatOnly()
    {
        Assert.That(Check(0x00AF9B000000FFFF, compat: true).Ok, Is.False);
        Assert.That(Check(0x00AF9B000000FFFF, compat: false), Is.EqualTo((true, 0x00AFFB000000FFFFul)));
    }

    /// <summary>
    /// Compat: base 0, limit 0xF67FF pages (G): (0xF6800 &lt;&lt; 12) = 0xF6800000 &gt; 0xF5800000, so
    /// the limit is widened to 0xFFFFF (a |= 0xFFFF, b |= 0xF0000).
    /// </summary>
    [Test]
    public void CompatFlatSegmentBeyondTheHypervisorStartIsWidenedTo4GiB() =>
        Assert.That(Check(0x00CFB300000067FF, compat: true), Is.EqualTo((true, 0x00CFB3000000FFFFul)));

    /// <summary>Compat: limit 0xF57FF pages ends exactly at 0xF5800000 (not beyond): unchanged; a non-zero base is never widened.</summary>
    [Test]
    public void CompatSegmentsWithinTheGuestAreaOrWithABaseAreUnchanged()
    {
        Assert.That(Check(0x00CFB300000057FF, compat: true), Is.EqualTo((true, 0x00CFB300000057FFul)));
        Assert.That(Check(0x00CFB3001000FFFF, compat: true), Is.EqualTo((true, 0x00CFB3001000FFFFul)));
    }

    /// <summary>System type 0 ("used for 2nd half of a call gate") is accepted as it is, even present.</summary>
    [TestCase(false)]
    [TestCase(true)]
    public void SystemTypeZeroIsAcceptedUnchanged(bool compat) =>
        Assert.That(Check(0x0000800000000000, compat), Is.EqualTo((true, 0x0000800000000000ul)));

    /// <summary>Everything but a call gate is discarded: LDT (2), 64-bit TSS (9), interrupt gate (0xE), trap gate (0xF).</summary>
    [TestCase(0x0000E20000000FFFul)]
    [TestCase(0x0000E90000000067ul)]
    [TestCase(0x0000EE0000081234ul)]
    [TestCase(0x0000EF0000081234ul)]
    public void OtherSystemDescriptorsAreRefused(ulong d)
    {
        Assert.That(Check(d, compat: false).Ok, Is.False);
        Assert.That(Check(d, compat: true).Ok, Is.False);
    }

    /// <summary>
    /// pv64 call gate to FLAT_KERNEL_CS 0xe033, DPL 3, offset 0x1234 (a = 0xE0331234, b = 0xEC00):
    /// DPL forced to 0 (b = 0x8C00) with the DPL kept in the selector's RPL (0xe033).
    /// </summary>
    [Test]
    public void CallGateDplMovesIntoTheTargetSelectorsRpl() =>
        Assert.That(Check(0x0000EC00E0331234, compat: false), Is.EqualTo((true, 0x00008C00E0331234ul)));

    /// <summary>A DPL 0 gate to guest selector 0x0008: the DPL is first raised to 3, so the selector becomes 0x000B.</summary>
    [Test]
    public void CallGateDplIsRaisedBeforeItIsStored() =>
        Assert.That(Check(0x00008C0000081234, compat: false), Is.EqualTo((true, 0x00008C00000B1234ul)));

    /// <summary>guest_gate_selector_okay: Xen's own 0xe008 (a reserved GDT entry, not the flat kernel CS) is refused; an LDT selector (bit 2) is accepted.</summary>
    [Test]
    public void CallGateTargetMustBeAGuestSelector()
    {
        Assert.That(Check(0x0000EC00E0081234, compat: false).Ok, Is.False);
        Assert.That(Check(0x0000EC00E00C1234, compat: false).Ok, Is.True);
        Assert.That(Check(0x0000AC00E0331234, compat: true).Ok, Is.False);
    }

    /// <summary>
    /// Reserved bits: b[7:0] for pv64, b[7:5] for compat. A gate with parameter count 1
    /// (b = 0x..01) is refused for pv64; compat accepts it (to 0xe019, DPL 1: b = 0x8C01, selector 0xe019).
    /// </summary>
    [Test]
    public void CallGateReservedBitsDependOnTheGuestWidth()
    {
        Assert.That(Check(0x0000EC01E0331234, compat: false).Ok, Is.False);
        Assert.That(Check(0x0000AC01E0191234, compat: true), Is.EqualTo((true, 0x00008C01E0191234ul)));
        Assert.That(Check(0x0000AC21E0191234, compat: true).Ok, Is.False);
    }
}
