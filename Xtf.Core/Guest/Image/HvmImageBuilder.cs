using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Machine;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Core.Guest.Image;

/// <summary>
/// The domain builder for the HVM environments: writes the image (boot code, GDT, TSS, IDT, exception entry
/// stubs, the hypercall page placeholder) into guest physical memory, as the toolstack loads
/// an XTF ELF. Everything the image does at run time is x86 executed by the emulator.
/// </summary>
public static partial class HvmImageBuilder
{
    /// <summary>XTF's HVM IDT (arch/x86/hvm/traps.c): these vectors get gates; BP and OF are DPL 3.</summary>
    private static readonly int[] HandledVectors = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 16, 17, 18, 19, 20];

    /// <summary>LGDT's pseudo-descriptor: 16-bit limit then 32-bit base of the GDT (loaded by 32-bit boot code in every environment).</summary>
    public const ulong GdtrDescriptor = HvmLayout.Gdt + 0x100;
    /// <summary>LIDT's pseudo-descriptor: 16-bit limit (256 gates of 8 or 16 bytes) then the IDT base as 64 bits (upper half zero), for the 32-bit and the 64-bit LIDT.</summary>
    public const ulong IdtrDescriptor = HvmLayout.Gdt + 0x108;

    /// <summary>Builds the image and returns the entry point.</summary>
    public static ulong Build(PhysicalMemory memory, Environments environment, ulong xtfMainGate, ulong doExceptionGate)
    {
        var paging = HvmPageTables.Write(memory, environment);
        bool longMode = environment == Environments.Hvm64;
        WriteGdt(memory, longMode);
        WriteHypercallPoisonAndGateFiller(memory);
        if (longMode)
            return BuildLongMode(memory, paging!.Value, xtfMainGate, doExceptionGate);

        var stubs = WriteEntryStubs(memory, doExceptionGate, out ulong doubleFaultTaskEntry);
        WriteTss(memory, doubleFaultTaskEntry, paging?.Cr3 ?? 0);
        WriteIdt(memory, stubs);

        // Two passes: the far jump's target is the address of the code after it.
        int afterJump = 0;
        var first = X86Assembly.Assemble(32, HvmLayout.Text, a => afterJump = EmitBoot(a, paging, xtfMainGate, 0));
        ulong reload = HvmLayout.Text + first.InstructionOffsets[afterJump];
        var boot = X86Assembly.Assemble(32, HvmLayout.Text, a => EmitBoot(a, paging, xtfMainGate, reload));
        memory.Write(HvmLayout.Text, boot.Bytes);
        return HvmLayout.Text;
    }

    private static void WriteHypercallPoisonAndGateFiller(PhysicalMemory memory)
    {
        // XTF's hypercall page is poisoned with `ret` until Xen writes it.
        var poison = new byte[0x1000];
        Array.Fill(poison, (byte)0xC3);
        memory.Write(HvmLayout.HypercallPage, poison);

        // The gate pages hold int3 filler: a gate fetch never executes them.
        var filler = new byte[0x2000];
        Array.Fill(filler, (byte)0xCC);
        memory.Write(HvmLayout.SupervisorGates, filler);
    }

    /// <summary>
    /// XTF's GDT (arch/x86/gdt.c). In hvm64 the TSS descriptor is 16 bytes (SDM vol. 3, 7.2.3):
    /// slot 7 and, for the upper half of the base (zero here), slot 8, which 32-bit environments
    /// use for the #DF task's TSS.
    /// </summary>
    private static void WriteGdt(PhysicalMemory memory, bool longMode)
    {
        var gdt = new ulong[HvmLayout.GdtEntries];
        gdt[HvmLayout.GdteCs64Dpl0] = SegmentDescriptor.Flat(0xA, 0, big: false, longMode: true).Raw;
        gdt[HvmLayout.GdteCs32Dpl0] = SegmentDescriptor.Code32(0).Raw;
        gdt[HvmLayout.GdteDs32Dpl0] = SegmentDescriptor.Data32(0).Raw;
        gdt[HvmLayout.GdteCs64Dpl3] = SegmentDescriptor.Flat(0xA, 3, big: false, longMode: true).Raw;
        gdt[HvmLayout.GdteCs32Dpl3] = SegmentDescriptor.Code32(3).Raw;
        gdt[HvmLayout.GdteDs32Dpl3] = SegmentDescriptor.Data32(3).Raw;
        if (longMode)
        {
            gdt[HvmLayout.GdteTss] = SegmentDescriptor.System(SystemDescriptorType.Tss64Available, HvmLayout.Tss, 0x67).Raw;
        }
        else
        {
            gdt[HvmLayout.GdteTss] = SegmentDescriptor.System(SystemDescriptorType.Tss32Available, HvmLayout.Tss, 0x67).Raw;
            gdt[HvmLayout.GdteTssDf] = SegmentDescriptor.System(SystemDescriptorType.Tss32Available, HvmLayout.DoubleFaultTss, 0x67).Raw;
        }

        var bytes = new byte[gdt.Length * 8];
        for (int i = 0; i < gdt.Length; i++)
            BitConverter.TryWriteBytes(bytes.AsSpan(i * 8), gdt[i]);
        memory.Write(HvmLayout.Gdt, bytes);

        // Pseudo-descriptors for LGDT and LIDT: limit (16 bits), base (32 bits; the 64-bit LIDT
        // of hvm64 reads 64 bits, the upper half zero).
        var pseudo = new byte[18];
        BitConverter.TryWriteBytes(pseudo.AsSpan(0), (ushort)((gdt.Length * 8) - 1));
        BitConverter.TryWriteBytes(pseudo.AsSpan(2), (uint)HvmLayout.Gdt);
        BitConverter.TryWriteBytes(pseudo.AsSpan(8), (ushort)((256 * (longMode ? 16 : 8)) - 1));
        BitConverter.TryWriteBytes(pseudo.AsSpan(10), (ulong)HvmLayout.Idt);
        memory.Write(GdtrDescriptor, pseudo);
    }

    /// <summary>
    /// The #DF stack (the #DF task's in the 32-bit environments, IST1 in hvm64): from the end of
    /// the TSSs up to the IDT, unused otherwise. The #DF entry stub hands over to do_exception (a host gate), so it needs only a few dozen bytes.
    /// </summary>
    public const ulong DoubleFaultStackTop = HvmLayout.Idt;

    /// <summary>
    /// 32-bit TSSs (SDM figure 7-2). The main one: ESP0/SS0 for entry from ring 3, I/O map base
    /// beyond the limit. The #DF one (XTF's tss_DF in arch/x86/hvm/traps.c): its own stack, EIP at
    /// the #DF entry stub, kernel segments, so a #DF arrives through a task gate with sane state
    /// even when the faulting context's stack is not (SDM vol. 3, 6.15, interrupt 8).
    /// </summary>
    private static void WriteTss(PhysicalMemory memory, ulong doubleFaultEntry, ulong cr3)
    {
        // A task switch loads CR3 from the incoming TSS and never saves it (SDM vol. 3, 7.2.1):
        // both TSSs carry the page tables, for the switch to the #DF task and the IRET back.
        var tss = new byte[0x68];
        BitConverter.TryWriteBytes(tss.AsSpan(0x1C), (uint)cr3);
        BitConverter.TryWriteBytes(tss.AsSpan(4), (uint)HvmLayout.Ring0StackTop);
        BitConverter.TryWriteBytes(tss.AsSpan(8), (uint)HvmLayout.KernelDs);
        BitConverter.TryWriteBytes(tss.AsSpan(0x66), (ushort)0x68);
        memory.Write(HvmLayout.Tss, tss);

        var df = new byte[0x68];
        BitConverter.TryWriteBytes(df.AsSpan(0x1C), (uint)cr3);
        BitConverter.TryWriteBytes(df.AsSpan(0x20), (uint)doubleFaultEntry);
        BitConverter.TryWriteBytes(df.AsSpan(0x24), RFlags.Reserved1);
        BitConverter.TryWriteBytes(df.AsSpan(0x38), (uint)DoubleFaultStackTop);
        ushort[] selectors = [HvmLayout.KernelDs, HvmLayout.KernelCs, HvmLayout.KernelDs, HvmLayout.KernelDs, HvmLayout.KernelDs, HvmLayout.KernelDs];
        for (int i = 0; i < selectors.Length; i++)
            BitConverter.TryWriteBytes(df.AsSpan(0x48 + (4 * i)), selectors[i]);
        BitConverter.TryWriteBytes(df.AsSpan(0x66), (ushort)0x68);
        memory.Write(HvmLayout.DoubleFaultTss, df);
    }

    /// <summary>
    /// One stub per handled vector: push a zero error code where the CPU pushes none, push the
    /// vector, and join the common path, which saves the registers as XTF's cpu_regs, calls
    /// do_exception (a host gate) with a pointer to them, restores them and IRETs. XTF's
    /// entry_ret_to_kernel (X86_VEC_RET2KERN, from ExecUser's CPL 3 code) drops the IRET frame
    /// and returns on the kernel stack ExecUser left in its slot. The #DF task
    /// starts at <paramref name="doubleFaultTaskEntry"/>: a task switch pushes only the error
    /// code, so it rebuilds the EIP, CS, EFLAGS of the interrupted task from the main TSS (where
    /// the switch saved them) below it, and loads that task's GPRs from there too, so the frame
    /// do_exception sees is the faulting task's (XTF prints the previous TSS's state); its IRET,
    /// with NT set, returns to that task.
    /// </summary>
    private static Dictionary<int, ulong> WriteEntryStubs(PhysicalMemory memory, ulong doExceptionGate, out ulong doubleFaultTaskEntry)
    {
        var a = new Assembler(32);
        var labels = new Dictionary<int, Label>();
        var common = a.CreateLabel("handle_exception");
        foreach (int v in HandledVectors)
        {
            var l = a.CreateLabel($"entry_{v}");
            a.Label(ref l);
            labels[v] = l;
            if (!X86VectorInfo.HasErrorCode(v))
                a.push(0);
            a.push(v);
            a.jmp(common);
        }

        var dfTask = a.CreateLabel("entry_DF_task");
        a.Label(ref dfTask);
        a.pop(eax);
        a.push(__dword_ptr[(uint)HvmLayout.Tss + 0x24]);
        a.push(__dword_ptr[(uint)HvmLayout.Tss + 0x4C]);
        a.push(__dword_ptr[(uint)HvmLayout.Tss + 0x20]);
        a.push(eax);
        a.push((int)X86Vector.DF);

        // The interrupted task's GPRs, which the switch saved in the main TSS (SDM vol. 3,
        // figure 7-2: EAX at 0x28 to EDI at 0x44), so that the common path's PUSHAD records them
        // rather than the #DF task's. The IRET back reloads them from that TSS anyway.
        (AssemblerRegister32 Reg, int Offset)[] saved =
            [(ecx, 0x2C), (edx, 0x30), (ebx, 0x34), (ebp, 0x3C), (esi, 0x40), (edi, 0x44), (eax, 0x28)];
        foreach (var (reg, offset) in saved)
            a.mov(reg, __dword_ptr[(uint)HvmLayout.Tss + (uint)offset]);
        a.jmp(common);

        a.Label(ref common);
        ExceptionEntryPath.Emit32(a, doExceptionGate, HvmLayout.KernelDs);
        a.iretd();

        var ret2kern = a.CreateLabel("entry_ret_to_kernel");
        a.Label(ref ret2kern);
        a.mov(esp, __dword_ptr[(uint)HvmLayout.ExecUserReturnSlot]);
        a.ret();

        var code = X86Assembly.Assemble(a, HvmLayout.EntryStubs);
        memory.Write(HvmLayout.EntryStubs, code.Bytes);
        doubleFaultTaskEntry = code.LabelAddress(dfTask);
        var entries = labels.ToDictionary(kv => kv.Key, kv => code.LabelAddress(kv.Value));
        entries[HvmLayout.VectorReturnToKernel] = code.LabelAddress(ret2kern);
        return entries;
    }

    private static void WriteIdt(PhysicalMemory memory, Dictionary<int, ulong> stubs)
    {
        var idt = new byte[256 * 8];
        foreach (var (vector, address) in stubs)
        {
            int dpl = vector is 3 or 4 or HvmLayout.VectorReturnToKernel ? 3 : 0;
            var gate = SegmentDescriptor.Gate(SystemDescriptorType.InterruptGate32, HvmLayout.KernelCs, (uint)address, dpl);

            // As XTF on 32-bit: #DF is a task gate to the #DF TSS (GDT slot 8).
            if (vector == (int)X86Vector.DF)
                gate = SegmentDescriptor.Gate(SystemDescriptorType.TaskGate, HvmLayout.GdteTssDf << 3, 0, 0);
            BitConverter.TryWriteBytes(idt.AsSpan(vector * 8), gate.Raw);
        }

        memory.Write(HvmLayout.Idt, idt);
    }

    /// <summary>
    /// XTF's head.S: __USER_DS in DS, ES, FS and GS (usable at CPL 0, and left usable by an IRET
    /// to CPL 3, which nulls data segment registers whose DPL is below the new CPL: SDM vol. 2,
    /// IRET), __KERN_DS in SS.
    /// </summary>
    private static void EmitLoadDataSegments(Assembler a)
    {
        a.mov(eax, (uint)HvmLayout.UserDs);
        a.mov(ds, ax);
        a.mov(es, ax);
        a.mov(fs, ax);
        a.mov(gs, ax);
        a.mov(eax, (uint)HvmLayout.KernelDs);
        a.mov(ss, ax);
    }

    /// <summary>
    /// XTF's head: with paging, CR4 (PSE or PAE), CR3, then CR0 with PG and WP, as real
    /// instructions; then the GDT, a far jump to reload CS, data segments, stack, IDT and TR.
    /// Returns the index of the instruction after the far jump (its target).
    /// </summary>
    private static int EmitBoot(Assembler a, (ulong Cr3, ulong Cr4)? paging, ulong xtfMainGate, ulong reload)
    {
        if (paging is { } p)
        {
            a.mov(eax, cr4);
            a.or(eax, (uint)p.Cr4);
            a.mov(cr4, eax);
            a.mov(eax, (uint)p.Cr3);
            a.mov(cr3, eax);
            a.mov(eax, cr0);
            a.or(eax, (uint)(Cr0.PG | Cr0.WP));
            a.mov(cr0, eax);
        }

        a.lgdt(__[(uint)GdtrDescriptor]);
        a.AddInstruction(Instruction.CreateBranch(Code.Jmp_ptr1632, HvmLayout.KernelCs, (uint)reload));
        int target = a.Instructions.Count;
        EmitLoadDataSegments(a);
        a.mov(esp, (uint)HvmLayout.KernelStackTop);
        a.lidt(__[(uint)IdtrDescriptor]);
        a.mov(eax, (uint)HvmLayout.TssSelector);
        a.ltr(ax);
        a.push(0);
        a.call(xtfMainGate);
        a.ud2();
        return target;
    }
}
