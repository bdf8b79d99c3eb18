using NUnit.Framework;
using Xtf.Core.Cpu.Memory;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;

namespace Xtf.Tests.Guests;

/// <summary>
/// hvm64's page tables as XTF's arch/x86/hvm/pagetables.S lays them out, read from the built
/// image: PML4 at the table base, one PDPT, four directories of 2 MiB pages, the first 2 MiB
/// through a page table. Entries are writable with A and D preset; U/S is set only on the path
/// to the user gate page (4-level paging checks U/S at every level, SDM vol. 3, 4.6.1).
/// </summary>
[TestFixture]
public sealed class Hvm64PageTableTests
{
    private const ulong Rw = PageWalker.P | PageWalker.RW | PageWalker.A | PageWalker.D;
    private const ulong Pml4 = HvmLayout.PageTables, Pdpt = Pml4 + 0x1000, Directories = Pml4 + 0x2000, Table = Pml4 + 0x6000;

    private sealed class Idle : TestCase
    {
        public override void Main()
        {
        }
    }

    private static Func<ulong, ulong> BuildImage()
    {
        var runtime = new GuestRuntime(new Idle(), new GuestConfig { Environment = Environments.Hvm64 });
        return address => runtime.Cpu.ReadPhysical(address, 8);
    }

    [Test]
    public void Pml4MapsOnlyTheLow512GibThroughOnePdptWithUserOnItsPath()
    {
        var q = BuildImage();
        Assert.That(q(Pml4), Is.EqualTo(Pdpt | Rw | PageWalker.US));
        for (ulong i = 1; i < 512; i++)
            Assert.That(q(Pml4 + (8 * i)), Is.Zero, $"PML4E {i}");
    }

    [Test]
    public void PdptMapsFourGibThroughFourDirectoriesUserOnlyOnTheFirst()
    {
        var q = BuildImage();
        Assert.That(q(Pdpt), Is.EqualTo(Directories | Rw | PageWalker.US));
        for (ulong j = 1; j < 4; j++)
            Assert.That(q(Pdpt + (8 * j)), Is.EqualTo((Directories + (0x1000 * j)) | Rw), $"PDPTE {j}");
        for (ulong j = 4; j < 512; j++)
            Assert.That(q(Pdpt + (8 * j)), Is.Zero, $"PDPTE {j}");
    }

    [Test]
    public void DirectoriesMapSupervisor2MibPagesExceptTheFirstThroughAPageTable()
    {
        var q = BuildImage();
        Assert.That(q(Directories), Is.EqualTo(Table | Rw | PageWalker.US));
        foreach (ulong i in new ulong[] { 1, 511, 512, 2047 })
            Assert.That(q(Directories + (8 * i)), Is.EqualTo((i << 21) | Rw | PageWalker.PS), $"PDE {i}");
    }

    [Test]
    public void PageZeroIsAbsentAndOnlyTheUserGatePageIsUser()
    {
        var q = BuildImage();
        Assert.That(q(Table), Is.Zero, "page 0 not present");
        Assert.That(q(Table + (8 * (HvmLayout.UserGates >> 12))), Is.EqualTo(HvmLayout.UserGates | Rw | PageWalker.US));
        foreach (ulong page in new[] { HvmLayout.Text, HvmLayout.SupervisorGates, HvmLayout.KernelStackTop - 0x1000, 0x1FF000ul })
            Assert.That(q(Table + (8 * (page >> 12))), Is.EqualTo(page | Rw), $"page {page:x}");
    }
}
