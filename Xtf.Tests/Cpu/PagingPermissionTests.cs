using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Tests.Cpu.PageTableKit;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Access rights of paging (SDM vol. 3, 4.6) and the #PF error code (4.7): U/S and R/W combined
/// over every level, CR0.WP, execute-disable (EFER.NXE), SMEP, SMAP with EFLAGS.AC and its
/// implicit supervisor accesses, reserved bits, and which check wins when several apply. The
/// identity map is supervisor-only except the user code and user stack pages; the test page is
/// linear <see cref="PageTableKit.TestLinear"/> (0x800000), whose PDE is P, R/W, U/S unless a test
/// says otherwise. User code is entered with IRETD; its accesses are its first instruction, so a
/// fault's saved EIP is <see cref="CpuHarness.UserCodeBase"/>.
/// </summary>
[TestFixture]
public sealed class PagingPermissionTests
{
    private const uint Mark = 0x5EC0DE;

    /// <summary>Enables paging as asked, optionally runs <paramref name="prelude"/>, then enters <paramref name="user"/> at CPL 3.</summary>
    private static void RunUser(PageTableKit kit, Action<Assembler> user, ulong cr4 = 0, ulong efer = 0, ulong cr0 = 0,
        Action<Assembler>? prelude = null, uint userFlags = RFlags.Reserved1) =>
        kit.Run(
            a =>
            {
                kit.EmitEnable(a, cr4, efer, cr0);
                prelude?.Invoke(a);
                CpuHarness.EnterUser(a, userFlags);
            },
            a =>
            {
                user(a);
                a.@int(CpuHarness.ExitVector);
            });

    /// <summary>A #PF taken at CPL 3: the frame also holds CS = 0x1B, EFLAGS, ESP and SS on the ring-0 stack.</summary>
    private static void AssertUserPageFault(PageTableKit kit, uint errorCode, ulong cr2, uint eip = CpuHarness.UserCodeBase)
    {
        AssertPageFault(kit.H, errorCode, cr2, eip);
        Assert.Multiple(() =>
        {
            Assert.That(kit.H.Frame(2), Is.EqualTo((uint)CpuHarness.UserCode), "saved CS: the fault came from CPL 3");
            Assert.That(kit.H.Cpu.Esp, Is.EqualTo(CpuHarness.Ring0StackTop - 24), "error code, EIP, CS, EFLAGS, ESP, SS on the ring-0 stack");
        });
    }

    private static void EmitRead(Assembler a) => a.mov(ebx, __dword_ptr[TestLinear]);

    private static void EmitWrite(Assembler a) => a.mov(__dword_ptr[TestLinear], Mark);

    /// <summary>A read of the test page into EBX, then a write of <see cref="Mark"/> at offset 4.</summary>
    private static void EmitReadThenWrite(Assembler a)
    {
        EmitRead(a);
        a.mov(__dword_ptr[TestLinear + 4], Mark);
    }

    /// <summary>Both accesses of <see cref="EmitReadThenWrite"/> went through to FrameB.</summary>
    private static void AssertReadThenWrite(PageTableKit kit)
    {
        kit.AssertNoFault();
        Assert.Multiple(() =>
        {
            Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(MagicB), "read");
            Assert.That(kit.H.ReadU32(FrameB + 4), Is.EqualTo(Mark), "written");
        });
    }

    /// <summary>Kernel code: jump to <paramref name="target"/> (where a fetch fault is expected).</summary>
    private static void EmitJump(Assembler a, uint target)
    {
        a.mov(eax, target);
        a.jmp(eax);
    }

    /// <summary>Code at <see cref="PageTableKit.FrameC"/>: MOV EBX, Mark; HLT (position independent).</summary>
    private static void LoadCodeFrame(PageTableKit kit) => kit.H.Load(FrameC, a =>
    {
        a.mov(ebx, Mark);
        a.hlt();
    });

    private static void EmitSetAc(Assembler a)
    {
        a.pushfd();
        a.or(__dword_ptr[esp], (int)RFlags.AC);
        a.popfd();
    }

    // ---- U/S and R/W (SDM 4.6.1): user access needs U/S = 1, user writes R/W = 1, at every level ----

    [TestCase(TestName = "U/S: a user read of a page whose PTE has U/S = 0 faults, error code P|U (5)")]
    public void UserReadOfSupervisorPte()
    {
        var kit = Create(PagingMode.Bits32);
        kit.Map(TestLinear, FrameB, P | RW);
        RunUser(kit, EmitRead);
        AssertUserPageFault(kit, PfP | PfU, TestLinear);
    }

    [TestCase(TestName = "U/S: the most restrictive level wins: PDE U/S = 0 over PTE U/S = 1, a user read faults (5)")]
    public void UserReadThroughSupervisorPde()
    {
        var kit = Create(PagingMode.Bits32);
        kit.Map(TestLinear, FrameB, P | RW | US);
        kit.Change(kit.Entry(TestLinear, 2), 0, US);
        RunUser(kit, EmitRead);
        AssertUserPageFault(kit, PfP | PfU, TestLinear);
    }

    [TestCase(TestName = "U/S, R/W: user read and write of a page with U/S = 1 and R/W = 1 at both levels succeed")]
    public void UserAccessOfUserPage()
    {
        var kit = Create(PagingMode.Bits32);
        kit.Map(TestLinear, FrameB, P | RW | US);
        RunUser(kit, a =>
        {
            EmitRead(a);
            a.mov(__dword_ptr[TestLinear + 4], Mark);
        });
        kit.AssertUserExit();
        Assert.Multiple(() =>
        {
            Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(MagicB), "read");
            Assert.That(kit.H.ReadU32(FrameB + 4), Is.EqualTo(Mark), "write");
        });
    }

    [TestCase(TestName = "R/W: a user read of a read-only user page succeeds")]
    public void UserReadOfReadOnlyPage()
    {
        var kit = Create(PagingMode.Bits32);
        kit.Map(TestLinear, FrameB, P | US);
        RunUser(kit, EmitRead);
        kit.AssertUserExit();
        Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(MagicB));
    }

    [TestCase(false, TestName = "R/W: a user write to a read-only PTE faults P|W|U (7) with CR0.WP = 0; memory unchanged")]
    [TestCase(true, TestName = "R/W: a user write to a read-only PTE faults P|W|U (7) with CR0.WP = 1")]
    public void UserWriteOfReadOnlyPte(bool wp)
    {
        // SDM 4.6.1: CR0.WP only affects supervisor writes; user writes always need R/W = 1.
        var kit = Create(PagingMode.Bits32);
        kit.Map(TestLinear, FrameB, P | US);
        RunUser(kit, EmitWrite, cr0: wp ? Cr0.WP : 0);
        AssertUserPageFault(kit, PfP | PfW | PfU, TestLinear);
        Assert.That(kit.H.ReadU32(FrameB), Is.EqualTo(MagicB), "nothing written");
    }

    [TestCase(TestName = "R/W: the most restrictive level wins: PDE R/W = 0 over PTE R/W = 1, a user write faults (7)")]
    public void UserWriteThroughReadOnlyPde()
    {
        var kit = Create(PagingMode.Bits32);
        kit.Map(TestLinear, FrameB, P | RW | US);
        kit.Change(kit.Entry(TestLinear, 2), 0, RW);
        RunUser(kit, EmitWrite);
        AssertUserPageFault(kit, PfP | PfW | PfU, TestLinear);
    }

    [TestCase(TestName = "#PF error code: a user write to a not-present page is W|U (6), P clear")]
    public void UserWriteNotPresent()
    {
        var kit = Create(PagingMode.Bits32);
        _ = kit.Entry(TestLinear, 1);
        RunUser(kit, EmitWrite);
        AssertUserPageFault(kit, PfW | PfU, TestLinear);
    }

    [TestCase(false, TestName = "CR0.WP = 0: a supervisor write to a read-only supervisor page succeeds and sets D")]
    [TestCase(true, TestName = "CR0.WP = 0: a supervisor write to a read-only user page succeeds")]
    public void SupervisorWriteWithoutWp(bool userPage)
    {
        var kit = Create(PagingMode.Bits32);
        uint pte = kit.Map(TestLinear, FrameB, P | (userPage ? US : 0));
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            EmitWrite(a);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.Multiple(() =>
        {
            Assert.That(kit.H.ReadU32(FrameB), Is.EqualTo(Mark), "written");
            Assert.That(kit.Read(pte) & D, Is.EqualTo(D), "D set");
        });
    }

    [TestCase("pte", TestName = "CR0.WP = 1: a supervisor write to a read-only PTE faults P|W (3); memory unchanged")]
    [TestCase("pde", TestName = "CR0.WP = 1: a supervisor write through a read-only PDE faults P|W (3)")]
    public void SupervisorWriteWithWp(string level)
    {
        var kit = Create(PagingMode.Bits32);
        kit.Map(TestLinear, FrameB, level == "pte" ? P : P | RW);
        if (level == "pde")
            kit.Change(kit.Entry(TestLinear, 2), 0, RW);
        Label fault = default;
        kit.Run(a =>
        {
            kit.EmitEnable(a, cr0Bits: Cr0.WP);
            fault = a.CreateLabel();
            a.Label(ref fault);
            EmitWrite(a);
            a.hlt();
        });
        AssertPageFault(kit.H, PfP | PfW, TestLinear, kit.H.AddressOf(fault));
        Assert.That(kit.H.ReadU32(FrameB), Is.EqualTo(MagicB), "nothing written");
    }

    // ---- I/D (SDM 4.7): set for fetches only if CR4.SMEP = 1, or CR4.PAE = 1 and EFER.NXE = 1 ----

    [TestCase(PagingMode.Bits32, 0ul, 0ul, 0u, TestName = "#PF I/D: 32-bit paging without SMEP, a fetch from a not-present page has I/D = 0 (error code 0)")]
    [TestCase(PagingMode.Bits32, Cr4.SMEP, 0ul, PfI, TestName = "#PF I/D: 32-bit paging with CR4.SMEP, a fetch from a not-present page has I/D = 1 (0x10)")]
    [TestCase(PagingMode.Pae, 0ul, 0ul, 0u, TestName = "#PF I/D: PAE paging with EFER.NXE = 0 and no SMEP, a fetch from a not-present page has I/D = 0")]
    [TestCase(PagingMode.Pae, 0ul, Efer.NXE, PfI, TestName = "#PF I/D: PAE paging with EFER.NXE = 1, a fetch from a not-present page has I/D = 1 (0x10)")]
    public void FetchFromNotPresentPage(PagingMode mode, ulong cr4, ulong efer, uint expected)
    {
        var kit = Create(mode);
        _ = kit.Entry(TestLinear, 1);
        kit.Run(a =>
        {
            kit.EmitEnable(a, cr4, efer);
            EmitJump(a, TestLinear + 0x10);
        });
        AssertPageFault(kit.H, expected, TestLinear + 0x10, TestLinear + 0x10);
    }

    // ---- Execute-disable (SDM 4.6.2): with EFER.NXE, XD = 1 at any level forbids fetches ----

    [TestCase("pte", TestName = "NX: a supervisor fetch from a page with XD in its PTE (EFER.NXE = 1) faults P|I (0x11)")]
    [TestCase("pde", TestName = "NX: XD in a PDE forbids fetches from every page it references (0x11)")]
    public void FetchFromExecuteDisabledPage(string level)
    {
        var kit = Create(PagingMode.Pae);
        LoadCodeFrame(kit);
        kit.Map(TestLinear, FrameC, P | RW | (level == "pte" ? XD : 0));
        if (level == "pde")
            kit.Change(kit.Entry(TestLinear, 2), XD);
        kit.Run(a =>
        {
            kit.EmitEnable(a, eferBits: Efer.NXE);
            EmitJump(a, TestLinear);
        });
        AssertPageFault(kit.H, PfP | PfI, TestLinear, TestLinear);
        Assert.That(kit.H.Cpu.Ebx, Is.Not.EqualTo(Mark), "the code did not run");
    }

    [TestCase(TestName = "NX: reads and writes of a page with XD are allowed")]
    public void DataAccessOfExecuteDisabledPage()
    {
        var kit = Create(PagingMode.Pae);
        kit.Map(TestLinear, FrameB, P | RW | XD);
        kit.Run(a =>
        {
            kit.EmitEnable(a, eferBits: Efer.NXE);
            EmitReadThenWrite(a);
            a.hlt();
        });
        AssertReadThenWrite(kit);
    }

    [TestCase(TestName = "NX: a user fetch from a user page with XD faults P|U|I (0x15)")]
    public void UserFetchFromExecuteDisabledPage()
    {
        var kit = Create(PagingMode.Pae);
        LoadCodeFrame(kit);
        kit.Map(TestLinear, FrameC, P | RW | US | XD);
        RunUser(kit, a => EmitJump(a, TestLinear), efer: Efer.NXE);
        AssertUserPageFault(kit, PfP | PfU | PfI, TestLinear, TestLinear);
    }

    [TestCase(TestName = "NX: 4-level paging (compatibility mode), XD in a PTE, a fetch faults P|I (0x11) through a 64-bit gate")]
    public void FourLevelExecuteDisable()
    {
        var kit = Create(PagingMode.FourLevel);
        kit.PrepareLongModeTables();
        LoadCodeFrame(kit);
        kit.Map(TestLinear, FrameC, P | RW | XD);
        kit.Run(a =>
        {
            kit.EmitEnable(a, eferBits: Efer.NXE);
            EmitLoadLongModeTables(a);
            EmitJump(a, TestLinear);
        });
        PagingTests.AssertLongModeFault(kit.H, X86Vector.PF, PfP | PfI, TestLinear);
        Assert.That(kit.H.Cpu.Cr2, Is.EqualTo((ulong)TestLinear), "CR2");
    }

    // ---- SMEP (SDM 4.6.1): no supervisor fetch from a user-mode address (U/S = 1 at every level) ----

    [TestCase(PagingMode.Bits32, TestName = "SMEP: a supervisor fetch from a user page faults P|I (0x11), U/S clear; CR2 = EIP = the target")]
    [TestCase(PagingMode.Pae, TestName = "SMEP: PAE paging (EFER.NXE = 0), a supervisor fetch from a user page faults P|I (0x11)")]
    public void SmepSupervisorFetchFromUserPage(PagingMode mode)
    {
        var kit = Create(mode);
        kit.Run(
            a =>
            {
                kit.EmitEnable(a, Cr4.SMEP);
                EmitJump(a, CpuHarness.UserCodeBase);
            },
            a => a.hlt());
        AssertPageFault(kit.H, PfP | PfI, CpuHarness.UserCodeBase, CpuHarness.UserCodeBase);
    }

    [TestCase(0ul, TestName = "Without SMEP: a supervisor fetch from a user page executes")]
    [TestCase(Cr4.SMAP, TestName = "SMAP does not restrict fetches: with SMAP and no SMEP, a supervisor fetch from a user page executes")]
    public void SupervisorFetchFromUserPageAllowed(ulong cr4)
    {
        var kit = Create(PagingMode.Bits32);
        kit.Run(
            a =>
            {
                kit.EmitEnable(a, cr4);
                EmitJump(a, CpuHarness.UserCodeBase);
            },
            a =>
            {
                a.mov(ebx, Mark);
                a.hlt();
            });
        kit.AssertNoFault();
        Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(Mark), "the user page's code ran at CPL 0");
    }

    [TestCase(TestName = "SMEP: a PTE with U/S = 1 under a PDE with U/S = 0 is a supervisor page, the fetch is allowed")]
    public void SmepUserPteUnderSupervisorPde()
    {
        var kit = Create(PagingMode.Bits32);
        LoadCodeFrame(kit);
        kit.Map(TestLinear, FrameC, P | RW | US);
        kit.Change(kit.Entry(TestLinear, 2), 0, US);
        kit.Run(a =>
        {
            kit.EmitEnable(a, Cr4.SMEP);
            EmitJump(a, TestLinear);
        });
        kit.AssertNoFault();
        Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(Mark), "ran");
    }

    [TestCase(TestName = "SMEP: supervisor data reads of user pages and user fetches from user pages are unaffected")]
    public void SmepLeavesDataAndUserFetches()
    {
        var kit = Create(PagingMode.Bits32);
        kit.Map(TestLinear, FrameB, P | RW | US);
        RunUser(kit, a => a.nop(), cr4: Cr4.SMEP, prelude: EmitRead);
        kit.AssertUserExit();
        Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(MagicB), "the supervisor read");
    }

    // ---- SMAP (SDM 4.6.1): explicit supervisor data accesses to user pages need EFLAGS.AC = 1 ----

    [TestCase(false, TestName = "SMAP: a supervisor read of a user page with AC = 0 faults with error code P set, U clear (1)")]
    [TestCase(true, TestName = "SMAP: a supervisor write to a user page with AC = 0 faults P|W (3); memory unchanged")]
    public void SmapFaults(bool write)
    {
        var kit = Create(PagingMode.Bits32);
        kit.Map(TestLinear, FrameB, P | RW | US);
        Label fault = default;
        kit.Run(a =>
        {
            kit.EmitEnable(a, Cr4.SMAP);
            fault = a.CreateLabel();
            a.Label(ref fault);
            if (write)
                EmitWrite(a);
            else
                EmitRead(a);
            a.hlt();
        });
        AssertPageFault(kit.H, PfP | (write ? PfW : 0), TestLinear, kit.H.AddressOf(fault));
        Assert.That(kit.H.ReadU32(FrameB), Is.EqualTo(MagicB), "nothing written");
    }

    [TestCase(TestName = "SMAP: with EFLAGS.AC = 1 (set by POPFD) a supervisor read and write of a user page are allowed")]
    public void SmapAllowsWithAc()
    {
        var kit = Create(PagingMode.Bits32);
        kit.Map(TestLinear, FrameB, P | RW | US);
        kit.Run(a =>
        {
            kit.EmitEnable(a, Cr4.SMAP);
            EmitSetAc(a);
            EmitReadThenWrite(a);
            a.hlt();
        });
        AssertReadThenWrite(kit);
    }

    [TestCase(TestName = "SMAP: STAC lets a supervisor read a user page, CLAC forbids it again (#PF 1 at the second read)")]
    public void SmapStacClac()
    {
        var kit = Create(PagingMode.Bits32);
        if (Cpuid(kit.H, 0).Eax < 7 || (Cpuid(kit.H, 7).Ebx & (1u << 20)) == 0)
            Assert.Ignore("no SMAP, STAC or CLAC (CPUID.(EAX=7,ECX=0):EBX[20] = 0)");
        kit.Map(TestLinear, FrameB, P | RW | US);
        Label fault = default;
        kit.Run(a =>
        {
            kit.EmitEnable(a, Cr4.SMAP);
            a.stac();
            EmitRead(a);
            a.mov(ecx, ebx);
            a.clac();
            fault = a.CreateLabel();
            a.Label(ref fault);
            EmitRead(a);
            a.hlt();
        });
        AssertPageFault(kit.H, PfP, TestLinear, kit.H.AddressOf(fault));
        Assert.That(kit.H.Cpu.Ecx, Is.EqualTo(MagicB), "the read after STAC");
    }

    [TestCase(TestName = "SMAP does not apply at CPL 3: a user read of a user page with SMAP and AC = 0 succeeds")]
    public void SmapLeavesUserAccesses()
    {
        var kit = Create(PagingMode.Bits32);
        kit.Map(TestLinear, FrameB, P | RW | US);
        RunUser(kit, EmitRead, cr4: Cr4.SMAP);
        kit.AssertUserExit();
        Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(MagicB));
    }

    // ---- Implicit supervisor accesses (SDM 4.6): descriptor-table reads are supervisor accesses
    // at any CPL, and SMAP forbids those to user pages whatever EFLAGS.AC. The split GDT keeps
    // entries 0-7 on a supervisor page, entry 8 (selector 0x40/0x43) on a user page. ----

    [TestCase(TestName = "SMAP: a segment load at CPL 0 reading its descriptor from a user page faults P (1) even with AC = 1")]
    public void SmapImplicitDescriptorReadAtCpl0()
    {
        var kit = Create(PagingMode.Bits32);
        kit.PrepareSplitGdt(SegmentDescriptor.Data32(0));
        Label fault = default;
        kit.Run(a =>
        {
            kit.EmitEnable(a, Cr4.SMAP);
            EmitLoadSplitGdt(a);
            EmitSetAc(a);
            a.mov(ebx, 0x40);
            fault = a.CreateLabel();
            a.Label(ref fault);
            a.mov(ds, bx);
            a.hlt();
        });
        AssertPageFault(kit.H, PfP, SplitGdtUserPage, kit.H.AddressOf(fault));
    }

    [TestCase(true, TestName = "SMAP: the descriptor read of a segment load at CPL 3 is a supervisor access: #PF P (1), U/S clear, even with AC = 1")]
    [TestCase(false, TestName = "U/S: without SMAP, a CPL 3 segment load reads its descriptor from a user page (supervisor access allowed)")]
    public void ImplicitDescriptorReadAtCpl3(bool smap)
    {
        var kit = Create(PagingMode.Bits32);
        kit.PrepareSplitGdt(SegmentDescriptor.Data32(3));
        RunUser(
            kit,
            a => a.mov(ds, bx),
            cr4: smap ? Cr4.SMAP : 0,
            prelude: a =>
            {
                EmitLoadSplitGdt(a);
                a.mov(ebx, 0x43);
            },
            userFlags: RFlags.Reserved1 | RFlags.AC);
        if (smap)
            AssertUserPageFault(kit, PfP, SplitGdtUserPage);
        else
            kit.AssertUserExit();
    }

    // ---- Which check wins (SDM 4.7): P = 0 ends the walk (other bits ignored); a reserved bit in a
    // present entry ends it with RSVD, whatever lies below; the error code still describes the access ----

    [TestCase(TestName = "Order: a not-present PTE's reserved bits are ignored, error code 0 (no RSVD)")]
    public void NotPresentBeatsReserved()
    {
        var kit = Create(PagingMode.Pae);
        int m = MaxPhysAddr(kit.H);
        kit.Write(kit.Entry(TestLinear, 1), XD | (m < 52 ? 1ul << m : 0) | RW | US);
        Label fault = default;
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            fault = a.CreateLabel();
            a.Label(ref fault);
            EmitRead(a);
            a.hlt();
        });
        AssertPageFault(kit.H, 0, TestLinear, kit.H.AddressOf(fault));
    }

    [TestCase(TestName = "Order: a reserved bit in a PDE faults RSVD (9) although its page table holds no present PTE")]
    public void ReservedInPdeStopsWalk()
    {
        var kit = Create(PagingMode.Pae);
        int m = MaxPhysAddr(kit.H);
        if (m >= 52)
            Assert.Ignore("MAXPHYADDR is 52: no address bit is reserved");
        _ = kit.Entry(TestLinear, 1);
        kit.Change(kit.Entry(TestLinear, 2), 1ul << m);
        Label fault = default;
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            fault = a.CreateLabel();
            a.Label(ref fault);
            EmitRead(a);
            a.hlt();
        });
        AssertPageFault(kit.H, PfP | PfRsvd, TestLinear, kit.H.AddressOf(fault));
    }

    [TestCase(TestName = "Order: a user write to a read-only supervisor page with a reserved bit faults P|W|U|RSVD (0xF)")]
    public void ReservedWithUserWrite()
    {
        var kit = Create(PagingMode.Pae);
        int m = MaxPhysAddr(kit.H);
        if (m >= 52)
            Assert.Ignore("MAXPHYADDR is 52: no address bit is reserved");
        kit.Map(TestLinear, FrameB | (1ul << m), P);
        RunUser(kit, EmitWrite);
        AssertUserPageFault(kit, PfP | PfW | PfU | PfRsvd, TestLinear);
    }
}
