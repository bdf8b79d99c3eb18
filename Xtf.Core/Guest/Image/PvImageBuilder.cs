using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Machine;
using Xtf.Core.Xen.Pv.Builder;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Core.Guest.Image;

/// <summary>
/// A PV environment's image, as XTF's head_pv.S and entry_{32,64}.S build it: boot code that
/// stashes start_info and calls xtf_main on the boot stack, and exception entry stubs for the
/// bounce frames Xen builds. The stubs save XTF's struct cpu_regs exactly as in HVM (pv64 first
/// pops the RCX and R11 Xen saved), call do_exception, and return with HYPERVISOR_iret (pv64
/// pushes its flags word 0 first; the hypercall page's iret slot pushes the rest).
/// </summary>
public static class PvImageBuilder
{
    private static readonly int[] HandledVectors = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 16, 17, 18, 19, 20];

    /// <summary>Writes the image; returns what the domain builder needs and the entry stubs by vector.</summary>
    public static (PvKernelImage Image, Dictionary<int, ulong> Stubs) Build(PhysicalMemory memory, Environments env, ulong xtfMainGate, ulong doExceptionGate)
    {
        bool wide = env == Environments.Pv64;
        var filler = new byte[0x2000];
        Array.Fill(filler, (byte)0xCC);
        memory.Write(HvmLayout.SupervisorGates, filler);
        var poison = new byte[0x1000];
        Array.Fill(poison, (byte)0xC3);
        memory.Write(HvmLayout.HypercallPage, poison);

        var stubs = WriteEntryStubs(memory, wide, doExceptionGate);
        var boot = X86Assembly.Assemble(wide ? 64 : 32, HvmLayout.Text, a =>
        {
            if (wide)
                a.mov(__qword_ptr[(uint)PvLayout.StartInfoSlot], rsi);
            else
                a.mov(__dword_ptr[(uint)PvLayout.StartInfoSlot], esi);
            a.mov(esp, (uint)HvmLayout.KernelStackTop);
            a.push(0);
            a.call(xtfMainGate);
            a.ud2();
        });
        memory.Write(HvmLayout.Text, boot.Bytes);
        return (new PvKernelImage(HvmLayout.Text, HvmLayout.HypercallPage, HvmLayout.ImageEnd), stubs);
    }

    private static Dictionary<int, ulong> WriteEntryStubs(PhysicalMemory memory, bool wide, ulong doExceptionGate)
    {
        var a = new Assembler(wide ? 64 : 32);
        var labels = new Dictionary<int, Label>();
        var common = a.CreateLabel("handle_exception");
        foreach (int v in HandledVectors)
        {
            var l = a.CreateLabel($"entry_{v}");
            a.Label(ref l);
            labels[v] = l;
            if (wide)
            {
                a.pop(rcx);
                a.pop(r11);
            }

            if (!X86VectorInfo.HasErrorCode(v))
                a.push(0);
            if (wide)
                a.mov(__dword_ptr[rsp + 4], v);
            else
                a.push(v);
            a.jmp(common);
        }

        a.Label(ref common);
        if (wide)
        {
            ExceptionEntryPath.Emit64(a, doExceptionGate);
            a.push(0);
            a.jmp(PvLayout.HypercallIret);
        }
        else
        {
            ExceptionEntryPath.Emit32(a, doExceptionGate, PvLayout.UserDs32);
            a.jmp((uint)PvLayout.HypercallIret);
        }

        var ret2kern = a.CreateLabel("entry_ret_to_kernel");
        a.Label(ref ret2kern);
        if (wide)
        {
            a.pop(rcx);
            a.pop(r11);
            a.mov(rsp, __qword_ptr[(uint)HvmLayout.ExecUserReturnSlot]);
        }
        else
        {
            a.mov(esp, __dword_ptr[(uint)HvmLayout.ExecUserReturnSlot]);
        }

        a.ret();
        var code = X86Assembly.Assemble(a, HvmLayout.EntryStubs);
        memory.Write(HvmLayout.EntryStubs, code.Bytes);
        var entries = labels.ToDictionary(kv => kv.Key, kv => code.LabelAddress(kv.Value));
        entries[HvmLayout.VectorReturnToKernel] = code.LabelAddress(ret2kern);
        return entries;
    }
}
