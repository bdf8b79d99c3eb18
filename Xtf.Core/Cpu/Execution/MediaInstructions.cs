using Iced.Intel;
using Xtf.Core.Cpu.Execution.Sse;
using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Cpu.Execution;

/// <summary>
/// MMX data movement and the x87/SSE state instructions: EMMS, MOVD/MOVQ (MMX forms; the XMM
/// forms go to <see cref="SseDataMovement"/>), FXSAVE/FXRSTOR, LDMXCSR/STMXCSR, and CLFLUSH. The
/// SSE instructions proper live in Sse/; other MMX instructions have no handler and raise #UD.
/// </summary>
internal static class MediaInstructions
{
    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        add(Mnemonic.Emms, Emms);
        add(Mnemonic.Movd, MovMmx);
        add(Mnemonic.Movq, MovMmx);
        add(Mnemonic.Fxsave, Fxsave);
        add(Mnemonic.Fxsave64, Fxsave);
        add(Mnemonic.Fxrstor, Fxrstor);
        add(Mnemonic.Fxrstor64, Fxrstor);
        add(Mnemonic.Ldmxcsr, Ldmxcsr);
        add(Mnemonic.Stmxcsr, Stmxcsr);
        add(Mnemonic.Clflush, Clflush);
    }

    /// <summary>
    /// LDMXCSR m32 (SDM vol. 2, LDMXCSR; exception type 5): #UD with LOCK, CR0.EM set or
    /// CR4.OSFXSR clear, #NM with CR0.TS, then the memory checks of a 4-byte load (#GP/#SS, #PF,
    /// #AC), then #GP(0) if a bit outside MXCSR_MASK is set; MXCSR is loaded only after all passed.
    /// </summary>
    private static void Ldmxcsr(X86Cpu cpu, in Instruction i)
    {
        if (i.HasLockPrefix)
            throw CpuFault.UD();
        cpu.CheckSseAvailable();
        uint value = (uint)cpu.ReadOperand(i, 0, 4);
        if ((value & ~X86Cpu.MxcsrMask) != 0)
            throw CpuFault.GP(0);
        cpu.Mxcsr = value;
    }

    /// <summary>STMXCSR m32 (SDM vol. 2, STMXCSR; exception type 5): the checks of LDMXCSR, then MXCSR stored as a 4-byte write.</summary>
    private static void Stmxcsr(X86Cpu cpu, in Instruction i)
    {
        if (i.HasLockPrefix)
            throw CpuFault.UD();
        cpu.CheckSseAvailable();
        cpu.WriteOperand(i, 0, 4, cpu.Mxcsr);
    }

    /// <summary>
    /// CLFLUSH m8 (SDM vol. 2, CLFLUSH): #UD with LOCK (CPUID.1:EDX.CLFSH is reported, so it is
    /// never #UD for that). The operand is checked as a 1-byte load: segment limit and
    /// readability (#GP(0), #SS(0) for SS) and a read translation (#PF with a read error code, and
    /// the A bits a walk sets). This machine has no caches, so once the checks pass there is
    /// nothing to write back or invalidate. No CR0/CR4 enabling condition applies.
    /// </summary>
    private static void Clflush(X86Cpu cpu, in Instruction i)
    {
        if (i.HasLockPrefix)
            throw CpuFault.UD();
        ulong la = cpu.MemoryLinear(i, 1, AccessKind.Read);
        _ = cpu.Translate(la, AccessKind.Read, cpu.UserAccess);
    }

    /// <summary>EMMS (SDM vol. 2, EMMS): the MMX checks, then every x87 tag empty (FFFFH).</summary>
    private static void Emms(X86Cpu cpu, in Instruction i)
    {
        cpu.CheckMmxAvailable();
        cpu.FpuTagWord = 0xFFFF;
    }

    /// <summary>
    /// MOVD/MOVQ between MMX registers, memory and general registers (SDM vol. 2, MOVD/MOVQ and
    /// MOVQ). A 32-bit source is zero-extended into MMi. The XMM forms (SSE2) are
    /// <see cref="SseDataMovement.MovdMovq"/>'s.
    /// </summary>
    private static void MovMmx(X86Cpu cpu, in Instruction i)
    {
        switch (i.Code)
        {
            case Code.Movq_mm_mmm64 or Code.Movd_mm_rm32 or Code.Movq_mm_rm64:
                {
                    cpu.CheckMmxAvailable();
                    int size = i.Code == Code.Movd_mm_rm32 ? 4 : 8;
                    ulong value = i.Op1Kind == OpKind.Register && IsMmx(i.Op1Register)
                        ? cpu.FpuRegisters[i.Op1Register - Register.MM0].Significand
                        : cpu.ReadOperand(i, 1, size);
                    cpu.EnterMmxState();
                    cpu.WriteMmx(i.Op0Register - Register.MM0, value);
                    break;
                }

            case Code.Movq_mmm64_mm or Code.Movd_rm32_mm or Code.Movq_rm64_mm:
                {
                    cpu.CheckMmxAvailable();
                    int size = i.Code == Code.Movd_rm32_mm ? 4 : 8;
                    ulong value = cpu.FpuRegisters[i.Op1Register - Register.MM0].Significand;
                    if (i.Op0Kind == OpKind.Register && IsMmx(i.Op0Register))
                    {
                        cpu.EnterMmxState();
                        cpu.WriteMmx(i.Op0Register - Register.MM0, value);
                    }
                    else
                    {
                        cpu.WriteOperand(i, 0, size, value & X86Cpu.SizeMask(size));
                        cpu.EnterMmxState();
                    }

                    break;
                }

            case var code when SseDataMovement.IsXmmMovdMovq(code):
                SseDataMovement.MovdMovq(cpu, i);
                break;

            default:
                cpu.RaiseInvalidOpcode();
                cpu.NextRip = cpu.Rip;
                break;
        }
    }

    private static bool IsMmx(Register r) => r is >= Register.MM0 and <= Register.MM7;

    /// <summary>
    /// FXSAVE/FXSAVE64 m512byte (SDM vol. 2, FXSAVE): #NM if CR0.EM or CR0.TS, #GP(0) unless
    /// 16-byte aligned, then the image of FXSAVE's non-64-bit layout table (its 64-bit layout
    /// for REX.W: 64-bit FPU IP and DP, no selectors).
    /// XMM0-7 are saved outside 64-bit mode, XMM0-15 in it; this CPU saves XMM state and MXCSR
    /// whatever CR4.OSFXSR (the SDM leaves that implementation-dependent).
    /// </summary>
    private static void Fxsave(X86Cpu cpu, in Instruction i)
    {
        cpu.CheckX87Available();
        ulong la = SseOperands.MemoryOperand(cpu, i, 512, AccessKind.Write, aligned: true);
        SseOperands.ProbeWritable(cpu, la, 512);
        bool user = cpu.UserAccess;
        byte abridgedTags = 0;
        for (int r = 0; r < 8; r++)
        {
            if (((cpu.FpuTagWord >> (2 * r)) & 3) != 3)
                abridgedTags |= (byte)(1 << r);
        }

        cpu.WriteLinear(la, 2, cpu.FpuControlWord, user);
        cpu.WriteLinear(la + 2, 2, cpu.FpuStatusWord, user);
        cpu.WriteLinear(la + 4, 2, abridgedTags, user);
        cpu.WriteLinear(la + 6, 2, cpu.FpuOpcode, user);
        if (i.Mnemonic == Mnemonic.Fxsave64)
        {
            cpu.WriteLinear(la + 8, 8, cpu.FpuInstructionPointer, user);
            cpu.WriteLinear(la + 16, 8, cpu.FpuDataPointer, user);
        }
        else
        {
            cpu.WriteLinear(la + 8, 4, (uint)cpu.FpuInstructionPointer, user);
            cpu.WriteLinear(la + 12, 4, cpu.FpuInstructionSelector, user);
            cpu.WriteLinear(la + 16, 4, (uint)cpu.FpuDataPointer, user);
            cpu.WriteLinear(la + 20, 4, cpu.FpuDataSelector, user);
        }

        cpu.WriteLinear(la + 24, 4, cpu.Mxcsr, user);
        cpu.WriteLinear(la + 28, 4, X86Cpu.MxcsrMask, user);
        for (int st = 0; st < 8; st++)
        {
            var reg = cpu.FpuRegisters[(cpu.FpuTop + st) & 7];
            cpu.WriteLinear(la + 32 + (ulong)(16 * st), 8, reg.Significand, user);
            cpu.WriteLinear(la + 40 + (ulong)(16 * st), 2, reg.SignExponent, user);
        }

        for (int x = 0; x < XmmCount(cpu); x++)
        {
            cpu.WriteLinear(la + 160 + (ulong)(16 * x), 8, cpu.Xmm[x].Low, user);
            cpu.WriteLinear(la + 168 + (ulong)(16 * x), 8, cpu.Xmm[x].High, user);
        }
    }

    /// <summary>
    /// FXRSTOR/FXRSTOR64 m512byte (SDM vol. 2, FXRSTOR): the checks of FXSAVE, then #GP(0) if the
    /// image sets an MXCSR bit outside MXCSR_MASK; nothing is loaded before every check passed.
    /// An abridged tag bit set means the register's tag follows from its contents (vol. 1, 10.5.1).
    /// </summary>
    private static void Fxrstor(X86Cpu cpu, in Instruction i)
    {
        cpu.CheckX87Available();
        ulong la = SseOperands.MemoryOperand(cpu, i, 512, AccessKind.Read, aligned: true);
        bool user = cpu.UserAccess;
        uint mxcsr = (uint)cpu.ReadLinear(la + 24, 4, user);
        if ((mxcsr & ~X86Cpu.MxcsrMask) != 0)
            throw CpuFault.GP(0);
        ushort fcw = (ushort)cpu.ReadLinear(la, 2, user);
        ushort fsw = (ushort)cpu.ReadLinear(la + 2, 2, user);
        byte abridgedTags = (byte)cpu.ReadLinear(la + 4, 1, user);
        ushort fop = (ushort)(cpu.ReadLinear(la + 6, 2, user) & 0x7FF);
        bool wide = i.Mnemonic == Mnemonic.Fxrstor64;
        ulong fip = cpu.ReadLinear(la + 8, wide ? 8 : 4, user);
        ulong fdp = cpu.ReadLinear(la + 16, wide ? 8 : 4, user);
        ushort fcs = wide ? (ushort)0 : (ushort)cpu.ReadLinear(la + 12, 2, user);
        ushort fds = wide ? (ushort)0 : (ushort)cpu.ReadLinear(la + 20, 2, user);
        int top = (fsw >> 11) & 7;
        var regs = new X86Cpu.X87Register[8];
        for (int st = 0; st < 8; st++)
        {
            regs[(top + st) & 7].Significand = cpu.ReadLinear(la + 32 + (ulong)(16 * st), 8, user);
            regs[(top + st) & 7].SignExponent = (ushort)cpu.ReadLinear(la + 40 + (ulong)(16 * st), 2, user);
        }

        int count = XmmCount(cpu);
        var xmm = new X86Cpu.XmmRegister[count];
        for (int x = 0; x < count; x++)
        {
            xmm[x].Low = cpu.ReadLinear(la + 160 + (ulong)(16 * x), 8, user);
            xmm[x].High = cpu.ReadLinear(la + 168 + (ulong)(16 * x), 8, user);
        }

        ushort tags = 0;
        for (int r = 0; r < 8; r++)
        {
            int tag = (abridgedTags & (1 << r)) == 0 ? 3 : X86Cpu.ClassifyTag(regs[r]);
            tags |= (ushort)(tag << (2 * r));
        }

        cpu.FpuControlWord = fcw;
        cpu.FpuStatusWord = fsw;
        cpu.FpuTagWord = tags;
        cpu.FpuOpcode = fop;
        cpu.FpuInstructionPointer = fip;
        cpu.FpuDataPointer = fdp;
        cpu.FpuInstructionSelector = fcs;
        cpu.FpuDataSelector = fds;
        regs.CopyTo(cpu.FpuRegisters, 0);
        xmm.CopyTo(cpu.Xmm, 0);
        cpu.Mxcsr = mxcsr;
    }

    /// <summary>XMM registers in the FXSAVE image: 16 in 64-bit mode, 8 otherwise (SDM vol. 2, FXSAVE).</summary>
    private static int XmmCount(X86Cpu cpu) => cpu.Bitness == 64 ? 16 : 8;
}
