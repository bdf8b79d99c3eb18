using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Interrupts;
using Xtf.Core.Xen.Emulation.Memory;

namespace Xtf.Core.Xen.Emulation;

/// <summary>What the emulator does with one instruction form: its semantics, delivered the hypervisor's way.</summary>
internal delegate void EmulationHandler(HvmEmulator emulator, in Instruction insn);

/// <summary>
/// The hypervisor's instruction emulator (Xen's x86_emulate with its HVM glue, DESIGN.md section
/// 6). It fetches and decodes the instruction at CS:IP itself, and shares the processor's
/// semantics for every instruction it does not own; but every access an instruction makes,
/// owned or not (operands, stack, string and descriptor-table accesses, the fetch, port I/O),
/// goes through Xen's ops (<see cref="EmulatorAccess"/>: its own segmentation and page walk,
/// no TLB, no alignment check, no data breakpoints), attached to the processor for the one
/// instruction. It owns the ones
/// whose effects a hypervisor delivers differently from hardware (software interrupts are
/// injected, after the checks hardware injection does not make) and those where Xen's historical
/// bugs lived, each of which a <see cref="Quirk"/> can re-create. Exceptions are never raised in
/// the guest directly: they are injected, with the instruction's address as the saved RIP.
/// </summary>
internal sealed partial class HvmEmulator
{
    private static readonly EmulationHandler?[] Owned = BuildTable();

    private readonly InstructionFetch fetch;
    private readonly Decoder decoder16, decoder32, decoder64;
    private bool eventInjected;

    private readonly EmulatorAccess access;

    public HvmEmulator(X86Cpu cpu, HypervisorOptions options, bool hap)
    {
        Cpu = cpu;
        Options = options;
        access = new EmulatorAccess(cpu, cpu.Ports, hap, options);
        fetch = new InstructionFetch(cpu);
        decoder16 = Decoder.Create(16, fetch);
        decoder32 = Decoder.Create(32, fetch);
        decoder64 = Decoder.Create(64, fetch);
    }

    public X86Cpu Cpu { get; }

    public HypervisorOptions Options { get; }

    /// <summary>True while an instruction is being emulated (a #UD inside it is not another FEP).</summary>
    public bool Busy { get; private set; }

    /// <summary>
    /// Whether the instruction being emulated retires with a single-step trap: TF when it started,
    /// unless its handler decides otherwise (x86_emulate's <c>singlestep</c>; SYSCALL uses the TF
    /// it leaves, XSA-204).
    /// </summary>
    public bool SingleStep { get; set; }

    /// <summary>Instructions emulated so far.</summary>
    public long Emulated { get; private set; }

    /// <summary>
    /// Emulates the instruction at CS:RIP (x86_emulate, then hvm_emulate_writeback): on success the
    /// state moves past it; a fault is injected with RIP at the instruction; an instruction the
    /// emulator cannot decode is #UD, as Xen injects for X86EMUL_UNHANDLEABLE under FEP.
    /// </summary>
    public void EmulateOne()
    {
        ulong start = Cpu.Rip;
        int bitnessAtStart = Cpu.Bitness;
        uint flagsAtStart = Cpu.Eflags;
        Busy = true;
        eventInjected = false;
        SingleStep = (flagsAtStart & RFlags.TF) != 0;
        Cpu.AccessAgent = access;
        try
        {
            var insn = Decode(start);
            if (Owned[(int)insn.Mnemonic] is { } handler)
                handler(this, in insn);
            else if (!FpuInstructions.TryEmulate(this, in insn))
                Cpu.ExecuteInstruction(in insn);
            if (bitnessAtStart == 16 && !eventInjected && Options.Has(Quirk.Xsa186))
                Cpu.Rip = (start & 0xFFFF0000) | (Cpu.Rip & 0xFFFF);
            Emulated++;
            RetireSingleStep(in insn);
        }
        catch (CpuFault fault)
        {
            Cpu.Rip = start;
            Cpu.InjectEvent((int)fault.Vector, fault.ErrorCode, EventKind.Exception, start, fault.FaultAddress);
        }
        finally
        {
            Cpu.AccessAgent = null;
            Busy = false;
        }
    }

    /// <summary>Injects an event for the instruction being emulated (at most one per instruction).</summary>
    public void Inject(int vector, uint? errorCode, EventKind kind, ulong returnRip)
    {
        eventInjected = true;
        Cpu.InjectEvent(vector, errorCode, kind, returnRip);
    }

    /// <summary>
    /// True if CS:RIP holds the forced emulation prefix, read as the emulator fetches instructions
    /// (an instruction fetch at the guest's CPL within the CS limit); bytes that cannot be read
    /// are not a prefix, and the #UD stands.
    /// </summary>
    public bool AtForcedEmulationPrefix()
    {
        // hvm_ud_intercept reads the signature through Xen's segmentation and walk too.
        Cpu.AccessAgent = access;
        try
        {
            fetch.Reset(Cpu.Rip);
            foreach (byte b in ForcedEmulation.Signature)
            {
                if (fetch.ReadByte() != b)
                    return false;
            }

            return true;
        }
        finally
        {
            Cpu.AccessAgent = null;
        }
    }

    /// <summary>
    /// The IP after <paramref name="i"/> as the emulator writes it back (every instruction's final
    /// IP, jumps included, gets the same rule at the commit in <see cref="EmulateOne"/>: 0640ffb6
    /// applied it to <c>_regs.eip</c> whatever set it): EIP outside 64-bit mode,
    /// not truncated to 16 bits in 16-bit code (hardware never truncates it there; XTF
    /// tests/xsa-186). Under quirk xsa-186 it is written back as Xen 0640ffb6 did until
    /// e9575f980d reverted it: in 16-bit code (def_ad_bytes 2) only IP[15:0] of the emulated
    /// result replace those of the EIP the emulator was entered with, EIP[31:16] staying
    /// (<c>ip = _regs.eip; _regs.eip = ctxt-&gt;regs-&gt;eip; *(uint16_t *)&amp;_regs.eip = ip;</c>).
    /// </summary>
    public ulong NextIp(in Instruction i)
    {
        ulong next = Cpu.Rip + (ulong)i.Length;
        if (Cpu.Bitness == 16 && Options.Has(Quirk.Xsa186))
            return (Cpu.Rip & 0xFFFF0000) | (next & 0xFFFF);
        return Cpu.Bitness == 64 ? next : next & 0xFFFFFFFF;
    }

    private Instruction Decode(ulong ip)
    {
        int bitness = Cpu.Bitness;

        // XSA-186: Xen 0640ffb6 truncated rIP to def_ad_bytes on entry ("_regs.eip &=
        // (1UL << (def_ad_bytes * 8)) - 1"), so 16-bit code was fetched from CS:IP[15:0] on,
        // the offset then counting up unwrapped; hardware and the fixed emulator (e9575f980d)
        // fetch at the untruncated EIP, within the CS limit.
        fetch.Reset(bitness == 16 && Options.Has(Quirk.Xsa186) ? ip & 0xFFFF : ip);
        var decoder = bitness switch { 16 => decoder16, 32 => decoder32, _ => decoder64 };
        decoder.IP = ip;
        decoder.Decode(out var insn);
        if (fetch.Fault is { } fault && (insn.IsInvalid || decoder.LastError == DecoderError.NoMoreBytes))
            throw fault;
        if (insn.IsInvalid)
            throw CpuFault.UD();
        return insn;
    }

    /// <summary>
    /// x86_emulate's single-step: an instruction that started with TF set (or whose handler set
    /// <see cref="SingleStep"/>) and completed without injecting an event retires with a #DB trap
    /// (DR6.BS), as hardware would take it (SDM vol. 3, 18.3.1.4). MOV SS and POP SS would hold it
    /// over the next instruction; the emulator does not hold debug traps across instructions, so
    /// it is not taken for them.
    /// </summary>
    private void RetireSingleStep(in Instruction insn)
    {
        if (eventInjected || !SingleStep)
            return;
        if (insn.Mnemonic is Mnemonic.Mov or Mnemonic.Pop && insn.Op0Kind == OpKind.Register && insn.Op0Register == Register.SS)
            return;
        Cpu.Dr[6] |= DebugRegisters.BS;
        Cpu.InjectEvent((int)X86Vector.DB, null, EventKind.Exception, Cpu.Rip);
    }

    private static EmulationHandler?[] BuildTable()
    {
        var table = new EmulationHandler?[Enum.GetValues<Mnemonic>().Length];
        void Own(Mnemonic m, EmulationHandler h) => table[(int)m] = h;
        SoftwareInterrupts.Install(Own);
        BitTest.Install(Own);
        CompareExchange.Install(Own);
        DataMovement.Install(Own);
        SystemInstructions.Install(Own);
        FarTransfers.Install(Own);
        FastSystemCalls.Install(Own);
        return table;
    }
}
