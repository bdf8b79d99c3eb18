using Iced.Intel;

namespace Xtf.Core.Testing.Fuzzing;

/// <summary>
/// Random valid instructions for a code size: random prefix runs (operand and address size, REP,
/// LOCK, segment overrides, REX) in front of a random opcode of any map (one-byte, 0F, 0F38, 0F3A,
/// 3DNow!, VEX2, VEX3, XOP, EVEX), kept when Iced's decoder accepts it; and, one time in four,
/// a system instruction encoded by Iced's encoder with random operands: far JMP/CALL/RET, IRET,
/// INT n, SYSENTER/SYSEXIT, SYSCALL/SYSRET, MOV CR/DR/Sreg, LGDT/LIDT of random pseudo-descriptors,
/// LLDT/LTR, WRMSR/RDMSR of interesting MSRs, optionally behind the forced-emulation prefix
/// (ud2; .ascii "xen", XTF's _ASM_XEN_FEP).
/// </summary>
internal static class RandomInstructions
{
    /// <summary>XTF's forced emulation prefix: ud2 then "xen" (xtf/include/xtf/asm_macros.h, _ASM_XEN_FEP).</summary>
    public static readonly byte[] Fep = [0x0F, 0x0B, 0x78, 0x65, 0x6E];

    private static readonly byte[] Prefixes = [0x66, 0x67, 0xF2, 0xF3, 0xF0, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65];
    private static readonly byte[][] Escapes = [[], [0x0F], [0x0F, 0x38], [0x0F, 0x3A], [0x0F, 0x0F], [0xC5], [0xC4], [0x8F], [0x62]];

    /// <summary>MSRs whose writes change the machine (SDM vol. 4, table 2-2) and a few nobody has.</summary>
    private static readonly uint[] Msrs =
    [
        0x10, 0x1B, 0x3A, 0x48, 0x49, 0x174, 0x175, 0x176, 0x1D9, 0x277, 0x2FF, 0x3F1, 0x6E0,
        0xC0000080, 0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084, 0xC0000100, 0xC0000101, 0xC0000102, 0xC0000103,
        0x40000000, 0x40000200, 0xDEADBEEF,
    ];

    /// <summary>Fills <paramref name="size"/> bytes with random instructions for <paramref name="bitness"/>-bit code; the tail that no longer fits an instruction is random bytes.</summary>
    public static byte[] Stream(Random rng, int bitness, int size)
    {
        var code = new List<byte>(size + 32);
        while (code.Count < size)
            code.AddRange(rng.Next(4) == 0 ? SystemInstruction(rng, bitness) : DecodedInstruction(rng, bitness));
        return [.. code.Take(size)];
    }

    /// <summary>One random instruction Iced's decoder accepts in <paramref name="bitness"/>-bit code.</summary>
    public static byte[] DecodedInstruction(Random rng, int bitness)
    {
        var bytes = new byte[15];
        for (int attempt = 0; ; attempt++)
        {
            int n = 0;
            int prefixes = rng.Next(4) == 0 ? rng.Next(1, 5) : 0;
            for (int i = 0; i < prefixes; i++)
                bytes[n++] = Prefixes[rng.Next(Prefixes.Length)];
            if (bitness == 64 && rng.Next(3) == 0)
                bytes[n++] = (byte)(0x40 | rng.Next(16));
            foreach (byte b in Escapes[rng.Next(Escapes.Length)])
                bytes[n++] = b;
            for (; n < bytes.Length; n++)
                bytes[n] = (byte)rng.Next(256);

            var decoder = Decoder.Create(bitness, new ByteArrayCodeReader(bytes));
            decoder.Decode(out var instruction);
            if ((decoder.LastError == DecoderError.None && instruction.Code != Code.INVALID) || attempt == 20)
                return bytes[..Math.Max(1, instruction.Length)];
        }
    }

    /// <summary>One system instruction with random operands (and its register set-up), one time in eight behind the FEP.</summary>
    public static byte[] SystemInstruction(Random rng, int bitness)
    {
        var list = new List<Instruction>();
        Register ax = bitness == 64 ? Register.RAX : Register.EAX;
        Register cx = bitness == 64 ? Register.RCX : Register.ECX;
        ushort selector = (ushort)((rng.Next(32) << 3) | rng.Next(4));
        uint target = (uint)(FuzzMachine.CodeBase + (ulong)rng.Next((int)FuzzMachine.CodeSize));
        var pseudo = new MemoryOperand(Register.None, (long)FuzzMachine.PseudoDescriptors + (rng.Next(8) * 16));
        void Load(Register r, ulong value) => list.Add(bitness == 64 && r.IsGPR64()
            ? Instruction.Create(Code.Mov_r64_imm64, r, value)
            : Instruction.Create(Code.Mov_r32_imm32, r.GetFullRegister32(), (uint)value));

        switch (rng.Next(16))
        {
            case 0:
                list.Add(Instruction.Create(Code.Int_imm8, (uint)rng.Next(256)));
                break;
            case 1:
                list.Add(Instruction.Create(bitness == 64 && rng.Next(2) == 0 ? Code.Iretq : rng.Next(3) == 0 ? Code.Iretw : Code.Iretd));
                break;
            case 2 when bitness != 64:
                list.Add(Instruction.CreateBranch(rng.Next(2) == 0 ? (bitness == 16 ? Code.Jmp_ptr1616 : Code.Jmp_ptr1632) : (bitness == 16 ? Code.Call_ptr1616 : Code.Call_ptr1632), selector, target));
                break;
            case 2 or 3:
                // Far JMP/CALL through memory: the selector:offset in a pseudo-descriptor slot.
                Code[] far = bitness == 64 ? [Code.Jmp_m1632, Code.Jmp_m1664, Code.Call_m1632, Code.Call_m1664] : [Code.Jmp_m1616, Code.Jmp_m1632, Code.Call_m1616, Code.Call_m1632];
                list.Add(Instruction.Create(far[rng.Next(far.Length)], pseudo));
                break;
            case 4:
                Code[] ret = bitness == 64 ? [Code.Retfq, Code.Retfd, Code.Retfq_imm16] : [Code.Retfw, Code.Retfd, Code.Retfd_imm16];
                var r = ret[rng.Next(ret.Length)];
                list.Add(r.ToString().EndsWith("imm16", StringComparison.Ordinal) ? Instruction.Create(r, (uint)rng.Next(64)) : Instruction.Create(r));
                break;
            case 5:
                Code[] sys = bitness == 64 ? [Code.Sysenter, Code.Sysexitd, Code.Sysexitq, Code.Syscall, Code.Sysretd, Code.Sysretq] : [Code.Sysenter, Code.Sysexitd, Code.Syscall, Code.Sysretd];
                list.Add(Instruction.Create(sys[rng.Next(sys.Length)]));
                break;
            case 6 or 7:
                // MOV to CR0/CR2/CR3/CR4/CR8 of a value near a sensible one, or anything.
                Register[] crs = bitness == 64 ? [Register.CR0, Register.CR2, Register.CR3, Register.CR4, Register.CR8] : [Register.CR0, Register.CR2, Register.CR3, Register.CR4];
                ulong[] near = [0x80000011, 0x80050033, 0x11, 0x4000, 0x5000, 0x7000, 0x20, 0x6F0, 0x3006F8];
                ulong value = rng.Next(2) == 0 ? near[rng.Next(near.Length)] ^ (1ul << rng.Next(bitness == 64 ? 64 : 32)) : FuzzMachine.RandomRegister(rng, bitness == 64);
                Load(ax, value);
                list.Add(Instruction.Create(bitness == 64 ? Code.Mov_cr_r64 : Code.Mov_cr_r32, crs[rng.Next(crs.Length)], ax));
                break;
            case 8:
                Register[] crr = [Register.CR0, Register.CR2, Register.CR3, Register.CR4, Register.CR1, Register.CR5];
                list.Add(Instruction.Create(bitness == 64 ? Code.Mov_r64_cr : Code.Mov_r32_cr, ax, crr[rng.Next(crr.Length)]));
                break;
            case 9:
                Register dr = Register.DR0 + rng.Next(8);
                Load(ax, FuzzMachine.RandomRegister(rng, bitness == 64));
                list.Add(rng.Next(2) == 0
                    ? Instruction.Create(bitness == 64 ? Code.Mov_dr_r64 : Code.Mov_dr_r32, dr, ax)
                    : Instruction.Create(bitness == 64 ? Code.Mov_r64_dr : Code.Mov_r32_dr, ax, dr));
                break;
            case 10:
                Load(ax, selector);
                Register[] sregs = [Register.ES, Register.SS, Register.DS, Register.FS, Register.GS];
                list.Add(Instruction.Create(Code.Mov_Sreg_r32m16, sregs[rng.Next(sregs.Length)], Register.AX));
                break;
            case 11:
                Code[] tables = bitness == 64 ? [Code.Lgdt_m1664, Code.Lidt_m1664] : bitness == 16 ? [Code.Lgdt_m1632_16, Code.Lidt_m1632_16] : [Code.Lgdt_m1632, Code.Lidt_m1632];
                list.Add(Instruction.Create(tables[rng.Next(2)], pseudo));
                break;
            case 12:
                Load(ax, selector);
                list.Add(Instruction.Create(rng.Next(2) == 0 ? Code.Lldt_r32m16 : Code.Ltr_r32m16, Register.AX));
                break;
            case 13 or 14:
                Load(cx, Msrs[rng.Next(Msrs.Length)]);
                Load(Register.EAX, (uint)FuzzMachine.RandomRegister(rng, false));
                Load(Register.EDX, rng.Next(2) == 0 ? 0 : (uint)rng.Next());
                list.Add(Instruction.Create(rng.Next(3) == 0 ? Code.Rdmsr : Code.Wrmsr));
                break;
            default:
                Code[] misc = [Code.Hlt, Code.Cli, Code.Sti, Code.Cpuid, Code.Rdtsc, Code.Clts, Code.Wbinvd, Code.Int3, Code.Int1, Code.Ud2];
                list.Add(Instruction.Create(misc[rng.Next(misc.Length)]));
                break;
        }

        var bytes = new List<byte>();
        if (rng.Next(8) == 0)
            bytes.AddRange(Fep);
        var writer = new BytesWriter(bytes);
        var encoder = Encoder.Create(bitness, writer);
        foreach (var instruction in list)
        {
            // 16-bit code has no 64-bit registers and some forms do not exist in a mode: skip what Iced refuses.
            _ = encoder.TryEncode(instruction, FuzzMachine.CodeBase, out _, out _);
        }

        return [.. bytes];
    }

    private sealed class BytesWriter(List<byte> bytes) : CodeWriter
    {
        public override void WriteByte(byte value) => bytes.Add(value);
    }
}
