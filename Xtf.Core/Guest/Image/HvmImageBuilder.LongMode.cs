using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Machine;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Core.Guest.Image;

/// <summary>
/// hvm64: boot from the 32-bit entry into IA-32e mode (XTF's arch/x86/hvm/head.S), the 64-bit
/// TSS with #DF on IST1, 16-byte IDT gates, and the 64-bit exception entry path
/// (arch/x86/entry_64.S) saving XTF's 64-bit struct cpu_regs.
/// </summary>
public static partial class HvmImageBuilder
{
    /// <summary>Where the 64-bit half of the boot code starts: the far jump's target.</summary>
    public const ulong Boot64 = HvmLayout.Text + 0x100;

    /// <summary>The IST the #DF gate names (XTF: <c>pack_gate(..., 0, 1)</c>, tss.ist[0]).</summary>
    private const int DoubleFaultIst = 1;

    private static ulong BuildLongMode(PhysicalMemory memory, (ulong Cr3, ulong Cr4) paging, ulong xtfMainGate, ulong doExceptionGate)
    {
        var stubs = WriteEntryStubs64(memory, doExceptionGate);
        WriteTss64(memory);
        var idt = new byte[256 * 16];
        foreach (var (vector, address) in stubs)
        {
            int dpl = vector is 3 or 4 or HvmLayout.VectorReturnToKernel ? 3 : 0;
            int ist = vector == (int)X86Vector.DF ? DoubleFaultIst : 0;
            Gate64(SystemDescriptorType.InterruptGate64, HvmLayout.KernelCs64, address, dpl, ist).CopyTo(idt.AsSpan(vector * 16));
        }

        memory.Write(HvmLayout.Idt, idt);
        var boot32 = X86Assembly.Assemble(32, HvmLayout.Text, a => EmitBootToLongMode(a, paging));
        if (HvmLayout.Text + (ulong)boot32.Bytes.Length > Boot64)
            throw new InvalidOperationException("32-bit boot code overlaps the 64-bit half");
        memory.Write(HvmLayout.Text, boot32.Bytes);
        memory.Write(Boot64, X86Assembly.Assemble(64, Boot64, a => EmitBoot64(a, xtfMainGate)).Bytes);
        return HvmLayout.Text;
    }

    /// <summary>
    /// A 16-byte IA-32e interrupt or trap gate (SDM vol. 3, figure 6-8): offset 15:0, selector,
    /// IST in bits 34:32, type, DPL and P in byte 5, offset 31:16, offset 63:32, reserved dword.
    /// </summary>
    internal static byte[] Gate64(int type, ushort selector, ulong offset, int dpl, int ist = 0, bool present = true)
    {
        ulong low = (offset & 0xFFFF) | ((ulong)selector << 16) | ((ulong)(ist & 7) << 32)
            | ((ulong)(type | (dpl << 5) | (present ? 0x80 : 0)) << 40) | (((offset >> 16) & 0xFFFF) << 48);
        var gate = new byte[16];
        BitConverter.TryWriteBytes(gate.AsSpan(0), low);
        BitConverter.TryWriteBytes(gate.AsSpan(8), offset >> 32);
        return gate;
    }

    /// <summary>
    /// The 64-bit TSS (SDM vol. 3, figure 7-11; XTF's tss in arch/x86/hvm/traps.c): RSP0 is the
    /// kernel stack for entry from ring 3, IST1 the #DF stack, the I/O map base beyond the limit.
    /// </summary>
    private static void WriteTss64(PhysicalMemory memory)
    {
        var tss = new byte[0x68];
        BitConverter.TryWriteBytes(tss.AsSpan(0x04), HvmLayout.Ring0StackTop);
        BitConverter.TryWriteBytes(tss.AsSpan(0x24 + (8 * (DoubleFaultIst - 1))), DoubleFaultStackTop);
        BitConverter.TryWriteBytes(tss.AsSpan(0x66), (ushort)0x68);
        memory.Write(HvmLayout.Tss, tss);
    }

    /// <summary>
    /// XTF's entry_64.S: each stub pushes a zero error code where the CPU pushes none and stores
    /// the vector in the upper half of the error-code slot; the common path pushes the GPRs in
    /// struct cpu_regs order (RDI first, R15 last, so R15 is at the lowest address), calls
    /// do_exception with RDI = the frame, pops them and IRETQs; entry_ret_to_kernel as in the
    /// 32-bit environments. In IA-32e mode the CPU always
    /// pushes SS:RSP (SDM vol. 3, 6.14.2), so the frame is the same from any CPL.
    /// </summary>
    private static Dictionary<int, ulong> WriteEntryStubs64(PhysicalMemory memory, ulong doExceptionGate)
    {
        var a = new Assembler(64);
        var labels = new Dictionary<int, Label>();
        var common = a.CreateLabel("handle_exception");
        foreach (int v in HandledVectors)
        {
            var l = a.CreateLabel($"entry_{v}");
            a.Label(ref l);
            labels[v] = l;
            if (!X86VectorInfo.HasErrorCode(v))
                a.push(0);
            a.mov(__dword_ptr[rsp + 4], v);
            a.jmp(common);
        }

        a.Label(ref common);
        ExceptionEntryPath.Emit64(a, doExceptionGate);
        a.iretq();

        var ret2kern = a.CreateLabel("entry_ret_to_kernel");
        a.Label(ref ret2kern);
        a.mov(rsp, __qword_ptr[(uint)HvmLayout.ExecUserReturnSlot]);
        a.ret();

        var code = X86Assembly.Assemble(a, HvmLayout.EntryStubs);
        memory.Write(HvmLayout.EntryStubs, code.Bytes);
        var entries = labels.ToDictionary(kv => kv.Key, kv => code.LabelAddress(kv.Value));
        entries[HvmLayout.VectorReturnToKernel] = code.LabelAddress(ret2kern);
        return entries;
    }

    /// <summary>
    /// XTF's head.S for hvm64, in 32-bit protected mode: CR4.PAE, CR3, EFER.LME by RDMSR/WRMSR,
    /// then CR0.PG (with WP), which activates IA-32e mode (SDM vol. 3, 9.8.5); the GDT; a far
    /// jump to the 64-bit kernel code segment leaves compatibility mode for 64-bit mode.
    /// </summary>
    private static void EmitBootToLongMode(Assembler a, (ulong Cr3, ulong Cr4) paging)
    {
        a.mov(eax, cr4);
        a.or(eax, (uint)paging.Cr4);
        a.mov(cr4, eax);
        a.mov(eax, (uint)paging.Cr3);
        a.mov(cr3, eax);
        a.mov(ecx, X86Cpu.MsrEfer);
        a.rdmsr();
        a.or(eax, (uint)Efer.LME);
        a.wrmsr();
        a.mov(eax, cr0);
        a.or(eax, (uint)(Cr0.PG | Cr0.WP));
        a.mov(cr0, eax);
        a.lgdt(__[(uint)GdtrDescriptor]);
        a.AddInstruction(Instruction.CreateBranch(Code.Jmp_ptr1632, HvmLayout.KernelCs64, (uint)Boot64));
    }

    /// <summary>In 64-bit mode: data segments, stack, the 64-bit LIDT, LTR, then xtf_main (a host gate).</summary>
    private static void EmitBoot64(Assembler a, ulong xtfMainGate)
    {
        EmitLoadDataSegments(a);
        a.mov(esp, (uint)HvmLayout.KernelStackTop);
        a.lidt(__[(uint)IdtrDescriptor]);
        a.mov(eax, (uint)HvmLayout.TssSelector);
        a.ltr(ax);
        a.push(0);
        a.call(xtfMainGate);
        a.ud2();
    }
}
