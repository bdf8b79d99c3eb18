using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.PagetableAccess;

/// <summary>
/// Page-table access rights in the spirit of kvm-unit-tests' x86/access.c: a test page is mapped
/// through a page table of its own, and for every permutation of the leaf's P/R/W/U/XD bits, the
/// directory entry's R/W/U/XD bits, CR0.WP, CR4.SMEP, CR4.SMAP (with EFLAGS.AC), EFER.NXE and the
/// access (read, write, fetch; supervisor or user) the guest makes the access and the outcome
/// (#PF error code and CR2, or the value and the A/D bits) is compared with what
/// <see cref="AccessRules"/> derives from the SDM. All of it is guest code: the page tables are
/// written, the controls switched and INVLPG issued by the guest. Runs with PAE paging (hvm32pae)
/// and 4-level paging (hvm64), where the code is 64-bit and the frames 8-byte.
/// </summary>
[XtfTest("pagetable-access", Category.Functional, Environments.Hvm32Pae | Environments.Hvm64, Title = "Page-table access rights")]
public sealed class PagetableAccess : TestCase
{
    private const uint TestPage = 0x40000000, TestData = TestPage + 0x10, UserPage = 0x40200000;
    private const uint UserStackTop = UserPage + 0x2000;
    private const uint TestTable = 0x500000, TestFrame = 0x501000, UserTable = 0x502000, UserCode = 0x503000, UserStack = 0x504000;
    private const uint Ring0StackTop = 0x506000, Slots = 0x507000;
    private const uint SavedEsp = Slots, Faulted = Slots + 8, ErrorCode = Slots + 16, FaultAddress = Slots + 24, ReadValue = Slots + 32;
    private const uint Marker = 0x12345678, Written = 0xA5A5A5A5;
    private const uint EntryP = 1, EntryW = 2, EntryU = 4, EntryA = 0x20, EntryD = 0x40;
    private const uint NxHigh = 0x80000000;
    private const int ReturnVector = HvmLayout.VectorAvailable;

    /// <summary>The LDT on the test page (two flat data descriptors, DPL 0 and DPL 3) and its GDT slot.</summary>
    private const uint LdtOffset = 0x100;
    private const int LdtSlot = HvmLayout.GdteAvail0;
    private const ushort LdtSelector = LdtSlot << 3, KernelLdtData = 0x4, UserLdtData = 0x8 | 0x4 | 3;

    /// <summary>Offsets of the user routines in the user code page.</summary>
    private static readonly Dictionary<AccessKind, uint> UserRoutines = new()
    {
        [AccessKind.Read] = 0,
        [AccessKind.Write] = 0x100,
        [AccessKind.Fetch] = 0x200,
    };

    private const uint UserImplicitRoutine = 0x300;

    private bool longMode;
    private ulong testPde;

    public override void Main()
    {
        if (Environment is not (Environments.Hvm32Pae or Environments.Hvm64))
        {
            Skip($"Environment {GuestEnvironment.Name(Environment)} not supported by this test\n");
            return;
        }

        longMode = Bitness == 64;
        SetUp();
        int checkedCount = 0, failures = 0;
        foreach (var p in Permutations())
        {
            checkedCount++;
            if (!Check(p) && ++failures >= 20)
                break;
        }

        Printk($"Checked {checkedCount} permutations\n");
        if (failures == 0)
            Success();
    }

    /// <summary>
    /// Every combination of the entry bits, WP and NXE with each access; SMEP matters only to
    /// supervisor fetches and SMAP/AC only to supervisor data accesses, so those vary with them.
    /// </summary>
    private static IEnumerable<Permutation> Permutations()
    {
        for (int bits = 0; bits < 1 << 9; bits++)
        {
            bool B(int n) => (bits & (1 << n)) != 0;
            var entries = new Permutation(B(0), B(1), B(2), B(3), B(4), B(5), B(6), B(7), false, false, B(8), false, false, AccessKind.Read);
            foreach (var kind in new[] { AccessKind.Read, AccessKind.Write, AccessKind.Fetch })
                yield return entries with { User = true, Kind = kind };
            yield return entries with { Kind = AccessKind.Fetch };
            yield return entries with { Kind = AccessKind.Fetch, Smep = true };
            foreach (var kind in new[] { AccessKind.Read, AccessKind.Write })
            {
                yield return entries with { Kind = kind };
                yield return entries with { Kind = kind, Smap = true };
                yield return entries with { Kind = kind, Smap = true, Ac = true };
            }

            foreach (bool user in new[] { false, true })
            {
                yield return entries with { Implicit = true, User = user };
                yield return entries with { Implicit = true, User = user, Smap = true, Ac = true };
            }
        }
    }

    /// <summary>Runs one permutation in the guest and compares it with the rules.</summary>
    private bool Check(Permutation p)
    {
        var r = ExecDetailed(a => EmitPermutation(a, p, longMode, testPde));
        uint? expected = AccessRules.ExpectedFault(p);
        bool faulted = r.Eax != 0;
        string? problem = null;
        if (r.Fault != ExInfo.None)
            problem = $"unexpected {r.Fault}";
        else if (expected is { } code)
        {
            if (!faulted)
                problem = $"expected #PF[{code:x}], no fault";
            else if (r.Ebx != code || r.Ecx != FaultingAddress(p))
                problem = $"expected #PF[{code:x}] at {FaultingAddress(p):x8}, got #PF[{r.Ebx:x}] at {r.Ecx:x8}";
        }
        else if (faulted)
            problem = $"expected no fault, got #PF[{r.Ebx:x}]";
        else
        {
            // SDM 4.8: A in the leaf; D only for a write. A read sees the frame's marker.
            uint ad = EntryA | (p.Kind == AccessKind.Write ? EntryD : 0);
            if ((r.Edx & (EntryA | EntryD)) != ad)
                problem = $"expected PTE A/D {ad:x}, got {r.Edx & (EntryA | EntryD):x}";
            else if (p.Kind == AccessKind.Read && !p.Implicit && r.Esi != Marker)
                problem = $"read {r.Esi:x8}, expected {Marker:x8}";
            else if (p.Kind == AccessKind.Write && r.Edi != Written)
                problem = $"the frame holds {r.Edi:x8} after the write, expected {Written:x8}";
        }

        if (problem is null)
            return true;
        Failure($"Fail: {p}: {problem}\n");
        return false;
    }

    /// <summary>
    /// The guest side of one permutation: write the entries, set the controls, flush, make the
    /// access (through a routine whose faults the test's #PF handler turns into a return), then
    /// restore the controls and report: EAX faulted, EBX error code, ECX CR2, EDX the PTE,
    /// ESI the value read, EDI the test data word.
    /// </summary>
    private static void EmitPermutation(Assembler a, Permutation p, bool longMode, ulong testPde)
    {
        var access = a.CreateLabel();
        var done = a.CreateLabel();
        uint pte = TestFrame | (p.PtePresent ? EntryP : 0) | (p.PteWrite ? EntryW : 0) | (p.PteUser ? EntryU : 0);
        uint pde = TestTable | EntryP | (p.PdeWrite ? EntryW : 0) | (p.PdeUser ? EntryU : 0);
        a.mov(__dword_ptr[TestTable], pte);
        a.mov(__dword_ptr[TestTable + 4], p.PteNx ? NxHigh : 0u);
        a.mov(__dword_ptr[(uint)testPde], pde);
        a.mov(__dword_ptr[(uint)testPde + 4], p.PdeNx ? NxHigh : 0u);
        a.mov(__dword_ptr[TestData - TestPage + TestFrame], Marker);
        a.mov(__dword_ptr[Faulted], 0u);
        a.mov(__dword_ptr[ReadValue], 0u);

        SetControls(a, longMode, p.Wp, p.Smep, p.Smap, p.Nxe);
        a.invlpg(__[TestPage]);
        if (p.Implicit)
        {
            a.mov(eax, (uint)LdtSelector);
            a.lldt(ax);
        }

        if (longMode)
            a.mov(__qword_ptr[SavedEsp], rsp);
        else
            a.mov(__dword_ptr[SavedEsp], esp);
        a.call(access);

        // Back at CPL 0 (by RET, from the access routine or one of the test's handlers).
        a.mov(eax, (uint)HvmLayout.KernelDs);
        a.mov(ds, ax);
        a.mov(es, ax);
        a.mov(fs, ax);
        a.xor(eax, eax);
        a.lldt(ax);
        SetControls(a, longMode, wp: true, smep: false, smap: false, nxe: false);
        a.clac();
        a.mov(eax, __dword_ptr[Faulted]);
        a.mov(ebx, __dword_ptr[ErrorCode]);
        a.mov(ecx, __dword_ptr[FaultAddress]);
        a.mov(edx, __dword_ptr[TestTable]);
        a.mov(esi, __dword_ptr[ReadValue]);
        a.mov(edi, __dword_ptr[TestData - TestPage + TestFrame]);
        a.jmp(done);

        a.Label(ref access);
        if (p.User)
        {
            // IRET to CPL 3 at the routine for this access; it comes back through the DPL 3 vector.
            a.mov(eax, (uint)HvmLayout.UserDs);
            a.mov(ds, ax);
            a.mov(es, ax);
            // (In 64-bit mode each push of an immediate fills an 8-byte slot, as IRETQ pops them.)
            a.push((int)HvmLayout.UserDs);
            a.push((int)UserStackTop);
            a.push((int)RFlags.Reserved1);
            a.push(longMode ? HvmLayout.UserCs64 : HvmLayout.UserCs);
            a.push((int)(UserPage + (p.Implicit ? UserImplicitRoutine : UserRoutines[p.Kind])));
            if (longMode)
                a.iretq();
            else
                a.iretd();
        }
        else
        {
            if (p.Ac)
                a.stac();
            else if (p.Smap)
                a.clac();
            if (p.Implicit)
                EmitSegmentLoad(a, KernelLdtData);
            else
                EmitAccess(a, p.Kind, longMode);
            a.mov(__dword_ptr[ReadValue], ebx);
            a.ret();
        }

        a.Label(ref done);
        a.nop();
    }

    /// <summary>The access itself: a read into EBX, a write of <see cref="Written"/>, or a call to the RET at the page's start.</summary>
    private static void EmitAccess(Assembler a, AccessKind kind, bool longMode)
    {
        switch (kind)
        {
            case AccessKind.Read:
                a.mov(ebx, __dword_ptr[TestData]);
                break;
            case AccessKind.Write:
                a.mov(__dword_ptr[TestData], Written);
                break;
            default:
                a.mov(eax, TestPage);
                if (longMode)
                    a.call(rax);
                else
                    a.call(eax);
                break;
        }
    }

    /// <summary>An implicit read of the test page: MOV FS reads the descriptor from the LDT there.</summary>
    private static void EmitSegmentLoad(Assembler a, ushort selector)
    {
        a.mov(eax, (uint)selector);
        a.mov(fs, ax);
    }

    /// <summary>The linear address a faulting access reports in CR2.</summary>
    private static uint FaultingAddress(Permutation p) =>
        p.Implicit ? TestPage + LdtOffset + (uint)((p.User ? UserLdtData : KernelLdtData) & ~7)
        : p.Kind == AccessKind.Fetch ? TestPage : TestData;

    /// <summary>CR0.WP, CR4.SMEP/SMAP and EFER.NXE by read-modify-write (each write flushes the TLB).</summary>
    private static void SetControls(Assembler a, bool longMode, bool wp, bool smep, bool smap, bool nxe)
    {
        int clear = ~(int)(Cr4.SMEP | Cr4.SMAP);
        int set = (int)((smep ? Cr4.SMEP : 0) | (smap ? Cr4.SMAP : 0));
        if (longMode)
        {
            a.mov(rax, cr0);
            a.and(rax, ~(int)Cr0.WP);
            if (wp)
                a.or(rax, (int)Cr0.WP);
            a.mov(cr0, rax);
            a.mov(rax, cr4);
            a.and(rax, clear);
            a.or(rax, set);
            a.mov(cr4, rax);
        }
        else
        {
            a.mov(eax, cr0);
            a.and(eax, ~(uint)Cr0.WP);
            if (wp)
                a.or(eax, (uint)Cr0.WP);
            a.mov(cr0, eax);
            a.mov(eax, cr4);
            a.and(eax, (uint)clear);
            a.or(eax, (uint)set);
            a.mov(cr4, eax);
        }

        a.mov(ecx, X86Cpu.MsrEfer);
        a.rdmsr();
        a.and(eax, ~(uint)Efer.NXE);
        if (nxe)
            a.or(eax, (uint)Efer.NXE);
        a.wrmsr();
    }

    /// <summary>
    /// Finds the page-directory entry for <paramref name="linear"/> by walking from CR3 in the
    /// guest (PAE: PDPTE, then PDE; 4-level: PML4E, PDPTE, PDE); with 4-level paging the PML4E
    /// and PDPTE on the way also get U/S and R/W set, so that the test's own entries decide.
    /// </summary>
    private ulong FindPde(uint linear)
    {
        ulong Read(ulong address)
        {
            var r = ExecDetailed(a =>
            {
                a.mov(eax, __dword_ptr[(uint)address]);
                a.mov(edx, __dword_ptr[(uint)address + 4]);
            });
            return r.Eax | ((ulong)r.Edx << 32);
        }

        void Allow(ulong address) => Exec(a => a.or(__dword_ptr[(uint)address], EntryU | EntryW));

        const ulong frame = 0x000FFFFFFFFFF000;
        ulong root = longMode ? ExecDetailed(a => a.mov(rax, cr3)).Eax : ExecDetailed(a => a.mov(eax, cr3)).Eax;
        ulong pdpteAddress;
        if (longMode)
        {
            ulong pml4eAddress = (root & frame) + (8 * ((linear >> 39) & 0x1FF));
            Allow(pml4eAddress);
            pdpteAddress = (Read(pml4eAddress) & frame) + (8 * ((linear >> 30) & 0x1FF));
            Allow(pdpteAddress);
        }
        else
        {
            pdpteAddress = (root & 0xFFFFFFE0) + (8 * ((linear >> 30) & 3));
        }

        return (Read(pdpteAddress) & frame) + (8 * ((linear >> 21) & 0x1FF));
    }

    /// <summary>
    /// Maps the user page (code, then stack) through a table of its own; writes the test frame
    /// (a RET at its start), the user routines, the ring-0 stack for entries from CPL 3, and the
    /// handlers: #PF records error code and CR2, vector 0x21 (DPL 3) is the way back from CPL 3;
    /// both return to the permutation's code after its CALL.
    /// </summary>
    private void SetUp()
    {
        testPde = FindPde(TestPage);
        ulong userPde = FindPde(UserPage);
        var routines = new byte[0x400];
        void Routine(uint offset, Action<Assembler> access)
        {
            var code = Xtf.Core.Guest.Runtime.X86Assembly.Assemble(Bitness, UserPage + offset, a =>
            {
                access(a);
                a.@int(ReturnVector);
            });
            code.Bytes.CopyTo(routines, (int)offset);
        }

        foreach (var (kind, offset) in UserRoutines)
            Routine(offset, a => EmitAccess(a, kind, longMode));
        Routine(UserImplicitRoutine, a => EmitSegmentLoad(a, UserLdtData));

        // In IA-32e mode an LDT descriptor is 16 bytes: the second slot holds base[63:32] (0).
        SetGdtEntry(LdtSlot, SegmentDescriptor.System(SystemDescriptorType.Ldt, TestPage + LdtOffset, 15));
        if (longMode)
            SetGdtEntry(LdtSlot + 1, new SegmentDescriptor(0));

        Exec(a =>
        {
            a.mov(__dword_ptr[UserTable], UserCode | EntryP | EntryW | EntryU);
            a.mov(__dword_ptr[UserTable + 4], 0u);
            a.mov(__dword_ptr[UserTable + 8], UserStack | EntryP | EntryW | EntryU);
            a.mov(__dword_ptr[UserTable + 12], 0u);
            a.mov(__dword_ptr[(uint)userPde], UserTable | EntryP | EntryW | EntryU);
            a.mov(__dword_ptr[(uint)userPde + 4], 0u);
            a.mov(__byte_ptr[TestFrame], 0xC3); // RET
            foreach (var (i, d) in new[] { (0, SegmentDescriptor.Data32(0)), (1, SegmentDescriptor.Data32(3)) })
            {
                a.mov(__dword_ptr[TestFrame + LdtOffset + (uint)(8 * i)], (uint)d.Raw);
                a.mov(__dword_ptr[TestFrame + LdtOffset + (uint)(8 * i) + 4], (uint)(d.Raw >> 32));
            }

            for (int i = 0; i < routines.Length; i += 4)
                a.mov(__dword_ptr[UserCode + (uint)i], BitConverter.ToUInt32(routines, i));
            a.mov(__dword_ptr[(uint)HvmLayout.Tss + 4], Ring0StackTop); // ESP0, or RSP0's low half
            if (longMode)
                a.mov(__dword_ptr[(uint)HvmLayout.Tss + 8], 0u);
        });

        ulong pageFault = AssembleKernelCode(a =>
        {
            if (longMode)
            {
                a.pop(__qword_ptr[ErrorCode]);
                a.mov(rax, cr2);
            }
            else
            {
                a.pop(__dword_ptr[ErrorCode]);
                a.mov(eax, cr2);
            }

            a.mov(__dword_ptr[FaultAddress], eax);
            a.mov(__dword_ptr[Faulted], 1u);
            ReturnToPermutation(a, longMode);
        });
        ulong back = AssembleKernelCode(a =>
        {
            a.mov(__dword_ptr[ReadValue], ebx);
            ReturnToPermutation(a, longMode);
        });
        SetIdtEntry((int)X86Vector.PF, pageFault);
        SetIdtEntry(ReturnVector, back, dpl: 3);
    }

    /// <summary>Drops whatever frame is on the stack and returns to the permutation's code after its CALL.</summary>
    private static void ReturnToPermutation(Assembler a, bool longMode)
    {
        if (longMode)
        {
            a.mov(rsp, __qword_ptr[SavedEsp]);
            a.sub(rsp, 8);
        }
        else
        {
            a.mov(esp, __dword_ptr[SavedEsp]);
            a.sub(esp, 4);
        }

        a.ret();
    }
}
