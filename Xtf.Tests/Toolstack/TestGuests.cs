using System.Text;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Toolstack;

/// <summary>
/// Tiny guests, assembled with Iced, that do what an upstream XTF image does at its start and end:
/// find the PV console, write a message ending "Test result: SUCCESS" into its out ring, notify the
/// console event channel and shut down with SCHEDOP_shutdown(poweroff). Each is one PT_LOAD at
/// <see cref="Base"/>: code (one page), then the strings, then (not in the file) the hypercall
/// page, scratch and a stack.
/// </summary>
internal static class TestGuests
{
    /// <summary>How the guest is entered.</summary>
    public enum Kind
    {
        /// <summary>HVM through XEN_ELFNOTE_PHYS32_ENTRY; EBX = hvm_start_info.</summary>
        Pvh,

        /// <summary>HVM at e_entry (the firmware path); EBX = 0.</summary>
        Firmware,

        /// <summary>64-bit PV; RSI = start_info.</summary>
        Pv64,

        /// <summary>32-bit PAE PV; ESI = start_info.</summary>
        Pv32Pae,
    }

    public const ulong Base = 0x100000;
    public const ulong Strings = Base + 0x1000;
    public const ulong HypercallPage = Base + 0x2000;
    public const ulong Scratch = Base + 0x3000;
    public const ulong StackTop = Base + 0x5000;
    public const ulong ImageEnd = StackTop;

    // Scratch: struct xen_hvm_param (public/hvm/hvm_op.h: domid_t domid @0, uint32_t index @4,
    // uint64_t value @8); struct evtchn_send (public/event_channel.h: port @0); struct
    // sched_shutdown (public/sched.h: reason @0); the entry EBX/ESI.
    private const ulong Param = Scratch, Port = Scratch + 16, Reason = Scratch + 20, Saved = Scratch + 24;

    // public/xen.h: __HYPERVISOR_sched_op 29, __HYPERVISOR_event_channel_op 32, __HYPERVISOR_hvm_op 34.
    private const int SchedOp = 29, EventChannelOp = 32, HvmOp = 34;

    // public/hvm/hvm_op.h HVMOP_get_param 1; public/hvm/params.h HVM_PARAM_CONSOLE_PFN 17,
    // HVM_PARAM_CONSOLE_EVTCHN 18; public/event_channel.h EVTCHNOP_send 4; public/sched.h
    // SCHEDOP_shutdown 2, SHUTDOWN_poweroff 0; public/xen.h DOMID_SELF 0x7FF0.
    private const int HvmOpGetParam = 1, ConsolePfn = 17, ConsoleEvtchn = 18, EvtchnSend = 4, SchedShutdown = 2, DomidSelf = 0x7FF0;

    // public/io/console.h struct xencons_interface: in[1024], out[2048], then in_cons, in_prod,
    // out_cons, out_prod (XENCONS_RING_IDX, uint32_t).
    private const int OutRing = 1024, OutRingSize = 2048, OutProd = 3084;

    // public/xen.h start_info: magic char[32]; native: console.domU.mfn @72, .evtchn @80;
    // compat (x86_32): @52, @56. The magic starts "xen-".
    private const uint StartInfoMagicPrefix = 0x2D6E6578;

    /// <summary>public/arch-x86/hvm/start_info.h XEN_HVM_START_MAGIC_VALUE; cmdline_paddr is the uint64_t at offset 24.</summary>
    public const uint HvmStartMagic = 0x336ec578;

    /// <summary>public/arch-x86/cpuid.h: leaf base+2 EBX is the MSR whose write installs the hypercall page.</summary>
    private const uint HypervisorLeaf2 = 0x40000002;

    public const string Success = "Test result: SUCCESS";

    /// <summary>The guest's PT_LOAD: code and strings in the file, the rest zero-filled.</summary>
    public static TestElf.Segment Segment(Kind kind)
    {
        var code = Code(kind);
        var data = new byte[0x1000 + StringTable(kind).Length];
        code.CopyTo(data, 0);
        StringTable(kind).CopyTo(data, 0x1000);
        return new TestElf.Segment(Base, data, ImageEnd - Base);
    }

    /// <summary>The Xen notes the kind needs (public/elfnote.h): PHYS32_ENTRY for PVH; for PV XEN_VERSION, LOADER, ENTRY, HYPERCALL_PAGE and (32-bit) PAE_MODE "yes".</summary>
    public static List<TestElf.Note> Notes(Kind kind) => kind switch
    {
        Kind.Pvh => [TestElf.Note.XenNumber(18, Base, 4)],
        Kind.Firmware => [],
        _ =>
        [
            TestElf.Note.XenText(6, "TestGuest"),
            TestElf.Note.XenText(5, "xen-3.0"),
            TestElf.Note.XenText(8, "generic"),
            TestElf.Note.XenNumber(1, Base),
            TestElf.Note.XenNumber(2, HypercallPage),
            .. kind == Kind.Pv32Pae ? [TestElf.Note.XenText(9, "yes")] : Array.Empty<TestElf.Note>(),
        ],
    };

    /// <summary>The guest as an ELF description: ELF64/EM_X86_64 for pv64, ELF32/EM_386 otherwise (HVM may take <paramref name="machine"/> EM_X86_64, as upstream's elf32-x86-64 hvm64 images).</summary>
    public static TestElf Elf(Kind kind, ushort machine = TestElf.Em386) => new()
    {
        Elf64 = kind == Kind.Pv64,
        Machine = kind == Kind.Pv64 ? TestElf.EmX8664 : machine,
        Entry = Base,
        Segments = [Segment(kind)],
        Notes = Notes(kind),
    };

    public static byte[] Image(Kind kind) => Elf(kind).Build();

    private static string OkMessage(Kind kind) => kind switch
    {
        Kind.Pvh => "EBX points at hvm_start_info\n",
        Kind.Firmware => "firmware entry with EBX = 0\n",
        _ => "start_info found\n",
    };

    private static readonly string[] Texts = ["cmdline: ", "\n", Success + "\n", "unexpected entry state\nTest result: FAILURE\n"];

    private static byte[] StringTable(Kind kind)
    {
        var b = new List<byte>();
        foreach (string s in Texts.Prepend(OkMessage(kind)))
            b.AddRange([.. Encoding.ASCII.GetBytes(s), 0]);
        return [.. b];
    }

    private static uint StringAt(Kind kind, int index)
    {
        int at = 0;
        var all = Texts.Prepend(OkMessage(kind)).ToArray();
        for (int i = 0; i < index; i++)
            at += all[i].Length + 1;
        return (uint)(Strings + (ulong)at);
    }

    private static byte[] Code(Kind kind)
    {
        bool wide = kind == Kind.Pv64, hvm = kind is Kind.Pvh or Kind.Firmware;
        var a = new Assembler(wide ? 64 : 32);
        var dead = a.CreateLabel();
        var bad = a.CreateLabel();
        var done = a.CreateLabel();
        var notify = a.CreateLabel();
        var puts = a.CreateLabel();
        var noCmdline = a.CreateLabel();

        // Calls hypercall page entry nr (each stub is 32 bytes: public/xen.h, hypercall_page).
        void Hypercall(int nr, int cmd, ulong arg)
        {
            if (wide)
            {
                a.mov(edi, cmd);
                a.mov(esi, (uint)arg);
                a.mov(eax, (uint)(HypercallPage + (ulong)(nr * 32)));
                a.call(rax);
            }
            else
            {
                a.mov(ebx, cmd);
                a.mov(ecx, (uint)arg);
                a.mov(eax, (uint)(HypercallPage + (ulong)(nr * 32)));
                a.call(eax);
            }
        }

        void Puts(int index)
        {
            a.mov(esi, StringAt(kind, index));
            a.call(puts);
        }

        if (hvm)
        {
            a.mov(esp, (uint)StackTop);
            a.mov(__dword_ptr[Saved], ebx);

            // Install the hypercall page: WRMSR(CPUID(0x40000002).EBX, gpa).
            a.mov(eax, HypervisorLeaf2);
            a.cpuid();
            a.mov(ecx, ebx);
            a.mov(eax, (uint)HypercallPage);
            a.xor(edx, edx);
            a.wrmsr();

            foreach (int index in new[] { ConsolePfn, ConsoleEvtchn })
            {
                a.mov(__dword_ptr[Param], DomidSelf);
                a.mov(__dword_ptr[Param + 4], index);
                Hypercall(HvmOp, HvmOpGetParam, Param);
                a.test(eax, eax);
                a.jnz(dead);
                a.mov(eax, __dword_ptr[Param + 8]);
                if (index == ConsolePfn)
                {
                    a.mov(ebp, eax);
                    a.shl(ebp, 12);
                }
                else
                {
                    a.mov(__dword_ptr[Port], eax);
                }
            }
        }
        else
        {
            a.mov(__dword_ptr[Saved], esi);
            a.mov(ebp, wide ? __dword_ptr[rsi + 72] : __dword_ptr[esi + 52]);
            a.shl(ebp, 12);
            a.mov(eax, wide ? __dword_ptr[rsi + 80] : __dword_ptr[esi + 56]);
            a.mov(__dword_ptr[Port], eax);
        }

        switch (kind)
        {
            case Kind.Pvh:
                a.mov(ebx, __dword_ptr[Saved]);
                a.cmp(__dword_ptr[ebx], HvmStartMagic);
                a.jne(bad);
                Puts(0);
                a.mov(edi, __dword_ptr[ebx + 24]);
                a.test(edi, edi);
                a.jz(noCmdline);
                Puts(1);
                a.mov(esi, edi);
                a.call(puts);
                Puts(2);
                a.Label(ref noCmdline);
                a.jmp(done);
                break;
            case Kind.Firmware:
                a.cmp(__dword_ptr[Saved], 0);
                a.jne(bad);
                Puts(0);
                a.jmp(done);
                break;
            default:
                a.mov(ebx, __dword_ptr[Saved]);
                a.cmp(wide ? __dword_ptr[rbx] : __dword_ptr[ebx], StartInfoMagicPrefix);
                a.jne(bad);
                Puts(0);
                a.jmp(done);
                break;
        }

        a.Label(ref bad);
        Puts(4);
        a.jmp(notify);
        a.Label(ref done);
        Puts(3);
        a.Label(ref notify);
        Hypercall(EventChannelOp, EvtchnSend, Port);
        a.mov(__dword_ptr[Reason], 0);
        Hypercall(SchedOp, SchedShutdown, Reason);
        a.Label(ref dead);
        a.ud2();

        // puts: append the NUL-terminated string at ESI/RSI to the out ring of the page at EBP/RBP.
        var loop = a.CreateLabel();
        var end = a.CreateLabel();
        a.Label(ref puts);
        a.mov(ecx, wide ? __dword_ptr[rbp + OutProd] : __dword_ptr[ebp + OutProd]);
        a.Label(ref loop);
        a.movzx(eax, wide ? __byte_ptr[rsi] : __byte_ptr[esi]);
        a.test(al, al);
        a.jz(end);
        a.mov(edx, ecx);
        a.and(edx, OutRingSize - 1);
        a.mov(wide ? __byte_ptr[rbp + rdx + OutRing] : __byte_ptr[ebp + edx + OutRing], al);
        a.inc(ecx);
        a.inc(esi);
        a.jmp(loop);
        a.Label(ref end);
        a.mov(wide ? __dword_ptr[rbp + OutProd] : __dword_ptr[ebp + OutProd], ecx);
        a.ret();

        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), Base);
        if (stream.Length > 0x1000)
            throw new InvalidOperationException("test guest code exceeds its page");
        return stream.ToArray();
    }
}
