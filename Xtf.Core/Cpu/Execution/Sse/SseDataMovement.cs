using Iced.Intel;
using static Xtf.Core.Cpu.Execution.Sse.SseOperands;

namespace Xtf.Core.Cpu.Execution.Sse;

/// <summary>
/// SSE and SSE2 data movement between XMM registers, memory and general registers (SDM vol. 2,
/// MOVAPS, MOVUPS, MOVAPD, MOVUPD, MOVDQA/MOVDQU, MOVSS, MOVSD, MOVD/MOVQ). Only MOVAPS/MOVUPS
/// and MOVSS are SSE; the others are SSE2 encodings, which execute although CPUID does not yet
/// report SSE2 (the CPU-model issue, 17, will). No form raises a floating-point exception.
/// </summary>
internal static class SseDataMovement
{
    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        add(Mnemonic.Movups, (X86Cpu c, in Instruction i) => MovPacked(c, i, aligned: false));
        add(Mnemonic.Movaps, (X86Cpu c, in Instruction i) => MovPacked(c, i, aligned: true));
        add(Mnemonic.Movupd, (X86Cpu c, in Instruction i) => MovPacked(c, i, aligned: false));
        add(Mnemonic.Movapd, (X86Cpu c, in Instruction i) => MovPacked(c, i, aligned: true));
        add(Mnemonic.Movdqu, (X86Cpu c, in Instruction i) => MovPacked(c, i, aligned: false));
        add(Mnemonic.Movdqa, (X86Cpu c, in Instruction i) => MovPacked(c, i, aligned: true));
        add(Mnemonic.Movss, (X86Cpu c, in Instruction i) => MovScalar(c, i, 4));

        // MOVSD xmm and MOVD/MOVQ xmm share mnemonics with other instructions (string MOVSD,
        // MMX MOVD/MOVQ), whose handlers pass the XMM forms to MovScalar and MovdMovq.
    }

    /// <summary>
    /// MOVAPS/MOVUPS/MOVAPD/MOVUPD/MOVDQA/MOVDQU xmm, xmm/m128 and m128, xmm (exception types 1
    /// and 4): the SSE checks, then for the aligned forms a memory operand not 16-byte aligned is
    /// #GP(0) whatever the segment, then the segment and paging checks of the whole 16 bytes.
    /// </summary>
    private static void MovPacked(X86Cpu cpu, in Instruction i, bool aligned)
    {
        CheckEnabled(cpu, i);
        if (i.Op0Kind == OpKind.Register)
            cpu.Xmm[Index(i.Op0Register)] = Read128(cpu, i, 1, aligned);
        else
            Write128(cpu, i, aligned, cpu.Xmm[Index(i.Op1Register)]);
    }

    /// <summary>
    /// MOVSS (4 bytes) and MOVSD (8 bytes), exception type 5: between registers only the low lane
    /// moves and the rest of the destination is kept; a load from memory zeroes the rest; a store
    /// writes the low lane.
    /// </summary>
    public static void MovScalar(X86Cpu cpu, in Instruction i, int bytes)
    {
        CheckEnabled(cpu, i);
        int width = 8 * bytes;
        if (i.Op0Kind != OpKind.Register)
        {
            cpu.WriteOperand(i, 0, bytes, Lane(cpu.Xmm[Index(i.Op1Register)], 0, width));
            return;
        }

        ulong value = ReadScalar(cpu, i, 1, bytes);
        ref var dst = ref cpu.Xmm[Index(i.Op0Register)];
        if (i.Op1Kind == OpKind.Memory)
            dst = default;
        SetLane(ref dst, 0, width, value);
    }

    /// <summary>
    /// The XMM forms of MOVD/MOVQ (exception type 5): 66 0F 6E (MOVD xmm, r/m32; with REX.W
    /// MOVQ xmm, r/m64) and F3 0F 7E (MOVQ xmm, xmm/m64) zero-extend into the whole register;
    /// 66 0F 7E (MOVD r/m32, xmm; REX.W MOVQ r/m64, xmm) stores the low lane; 66 0F D6 (MOVQ
    /// xmm/m64, xmm) stores 8 bytes, or into a register zeroes bits 127:64.
    /// </summary>
    public static void MovdMovq(X86Cpu cpu, in Instruction i)
    {
        CheckEnabled(cpu, i);
        switch (i.Code)
        {
            case Code.Movd_xmm_rm32 or Code.Movq_xmm_rm64:
                {
                    int bytes = i.Code == Code.Movd_xmm_rm32 ? 4 : 8;
                    cpu.Xmm[Index(i.Op0Register)] = new X86Cpu.XmmRegister { Low = cpu.ReadOperand(i, 1, bytes) };
                    break;
                }

            case Code.Movd_rm32_xmm or Code.Movq_rm64_xmm:
                {
                    int bytes = i.Code == Code.Movd_rm32_xmm ? 4 : 8;
                    cpu.WriteOperand(i, 0, bytes, Lane(cpu.Xmm[Index(i.Op1Register)], 0, 8 * bytes));
                    break;
                }

            case Code.Movq_xmm_xmmm64:
                cpu.Xmm[Index(i.Op0Register)] = new X86Cpu.XmmRegister { Low = ReadScalar(cpu, i, 1, 8) };
                break;

            default: // Movq_xmmm64_xmm
                ulong low = cpu.Xmm[Index(i.Op1Register)].Low;
                if (i.Op0Kind == OpKind.Register)
                    cpu.Xmm[Index(i.Op0Register)] = new X86Cpu.XmmRegister { Low = low };
                else
                    cpu.WriteOperand(i, 0, 8, low);
                break;
        }
    }

    /// <summary>The codes <see cref="MovdMovq"/> handles.</summary>
    public static bool IsXmmMovdMovq(Code code) => code is Code.Movd_xmm_rm32 or Code.Movq_xmm_rm64
        or Code.Movd_rm32_xmm or Code.Movq_rm64_xmm or Code.Movq_xmm_xmmm64 or Code.Movq_xmmm64_xmm;
}
