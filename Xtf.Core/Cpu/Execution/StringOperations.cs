using Iced.Intel;
using Xtf.Core.Cpu.Execution.Sse;

namespace Xtf.Core.Cpu.Execution;

/// <summary>
/// String instructions with REP/REPE/REPNE (SDM vol. 1, 7.3.9): MOVS, CMPS, SCAS, LODS, STOS,
/// INS, OUTS. A repeated instruction is interruptible between iterations: the registers reflect
/// the iterations done, and a fault leaves RIP on the instruction so it resumes.
/// </summary>
internal static class StringOperations
{
    /// <summary>Iterations per step before the instruction yields (RIP unchanged) to the execution loop.</summary>
    private const int IterationsPerStep = 4096;

    private enum Kind
    {
        Movs,
        Cmps,
        Scas,
        Lods,
        Stos,
        Ins,
        Outs,
    }

    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        foreach (var (m, k) in new[]
        {
            (Mnemonic.Movsb, Kind.Movs), (Mnemonic.Movsw, Kind.Movs), (Mnemonic.Movsd, Kind.Movs), (Mnemonic.Movsq, Kind.Movs),
            (Mnemonic.Cmpsb, Kind.Cmps), (Mnemonic.Cmpsw, Kind.Cmps), (Mnemonic.Cmpsd, Kind.Cmps), (Mnemonic.Cmpsq, Kind.Cmps),
            (Mnemonic.Scasb, Kind.Scas), (Mnemonic.Scasw, Kind.Scas), (Mnemonic.Scasd, Kind.Scas), (Mnemonic.Scasq, Kind.Scas),
            (Mnemonic.Lodsb, Kind.Lods), (Mnemonic.Lodsw, Kind.Lods), (Mnemonic.Lodsd, Kind.Lods), (Mnemonic.Lodsq, Kind.Lods),
            (Mnemonic.Stosb, Kind.Stos), (Mnemonic.Stosw, Kind.Stos), (Mnemonic.Stosd, Kind.Stos), (Mnemonic.Stosq, Kind.Stos),
            (Mnemonic.Insb, Kind.Ins), (Mnemonic.Insw, Kind.Ins), (Mnemonic.Insd, Kind.Ins),
            (Mnemonic.Outsb, Kind.Outs), (Mnemonic.Outsw, Kind.Outs), (Mnemonic.Outsd, Kind.Outs),
        })
        {
            var kind = k;
            add(m, (X86Cpu c, in Instruction i) => Execute(c, i, kind));
        }
    }

    private static void Execute(X86Cpu cpu, in Instruction i, Kind kind)
    {
        // MOVSD and CMPSD share their mnemonic with SSE2 scalar forms (Sse/); the VEX forms are not implemented.
        if (i.Code is Code.Movsd_xmm_xmmm64 or Code.Movsd_xmmm64_xmm)
        {
            SseDataMovement.MovScalar(cpu, i, 8);
            return;
        }

        if (i.Code == Code.Cmpsd_xmm_xmmm64_imm8)
        {
            SseArithmetic.CompareScalarDouble(cpu, i);
            return;
        }

        if (i.Encoding != EncodingKind.Legacy)
        {
            cpu.RaiseInvalidOpcode();
            cpu.NextRip = cpu.Rip;
            return;
        }

        int size = i.MemorySize.GetSize();
        int addrSize = AddressSize(i);
        ulong amask = X86Cpu.SizeMask(addrSize);
        long step = cpu.DirectionFlag ? -size : size;
        int srcSeg = X86Cpu.MemorySegment(i);
        bool repeat = i.HasRepPrefix || i.HasRepePrefix || i.HasRepnePrefix;
        bool compares = kind is Kind.Cmps or Kind.Scas;

        if (kind is Kind.Ins or Kind.Outs)
            InputOutput.CheckIoPermission(cpu, (ushort)cpu.ReadGpr(X86Cpu.RDX, 2), size);

        // 32-bit address size in 64-bit mode: the instruction's ESI, EDI and (repeated) ECX are
        // 32-bit registers, written zero-extended into RSI, RDI, RCX (SDM vol. 1, 3.4.1.1), and
        // silicon has written them before the first iteration: a count of 0 leaves RCX = ECX,
        // a fault on the first access leaves RDI = EDI.
        if (addrSize == 4 && cpu.Bitness == 64)
            ZeroExtendRegisters(cpu, kind, repeat);

        // Single-stepping a repeated string instruction traps after every iteration, with EIP
        // still at the instruction until the last one (SDM vol. 3, 18.3.1.4). Each iteration is
        // charged one unit of the instruction budget (the step itself pays for the first), so a
        // step never runs more iterations than the budget has left: the budget bounds the work.
        int iterationsPerStep = (cpu.Eflags & RFlags.TF) != 0 ? 1 : (int)Math.Clamp(cpu.Budget, 1, IterationsPerStep);

        int n = 0;
        try
        {
            Iterate(cpu, i, kind, repeat, compares, iterationsPerStep, size, addrSize, amask, step, srcSeg, ref n);
        }
        finally
        {
            if (n > 1)
                cpu.ChargeWork(n - 1);
        }
    }

    /// <summary>Runs up to <paramref name="iterationsPerStep"/> iterations; <paramref name="n"/> counts those begun.</summary>
    private static void Iterate(X86Cpu cpu, in Instruction i, Kind kind, bool repeat, bool compares, int iterationsPerStep,
        int size, int addrSize, ulong amask, long step, int srcSeg, ref int n)
    {
        for (; ; n++)
        {
            if (repeat)
            {
                if (cpu.ReadGpr(X86Cpu.RCX, addrSize) == 0)
                    return;
                if (n == iterationsPerStep)
                {
                    cpu.NextRip = cpu.Rip;
                    return;
                }
            }

            ulong si = cpu.ReadGpr(X86Cpu.RSI, addrSize);
            ulong di = cpu.ReadGpr(X86Cpu.RDI, addrSize);
            switch (kind)
            {
                case Kind.Movs:
                    cpu.WriteLogical(X86Cpu.ES, di, size, cpu.ReadLogical(srcSeg, si, size));
                    Advance(cpu, X86Cpu.RSI, addrSize, step, amask);
                    Advance(cpu, X86Cpu.RDI, addrSize, step, amask);
                    break;
                case Kind.Cmps:
                    {
                        ulong a = cpu.ReadLogical(srcSeg, si, size);
                        ulong b = cpu.ReadLogical(X86Cpu.ES, di, size);
                        FlagLogic.Set(cpu, FlagLogic.Sub(a, b, 0, a - b, size));
                        Advance(cpu, X86Cpu.RSI, addrSize, step, amask);
                        Advance(cpu, X86Cpu.RDI, addrSize, step, amask);
                        break;
                    }

                case Kind.Scas:
                    {
                        ulong a = cpu.ReadGpr(X86Cpu.RAX, size);
                        ulong b = cpu.ReadLogical(X86Cpu.ES, di, size);
                        FlagLogic.Set(cpu, FlagLogic.Sub(a, b, 0, a - b, size));
                        Advance(cpu, X86Cpu.RDI, addrSize, step, amask);
                        break;
                    }

                case Kind.Lods:
                    cpu.WriteGpr(X86Cpu.RAX, size, cpu.ReadLogical(srcSeg, si, size));
                    Advance(cpu, X86Cpu.RSI, addrSize, step, amask);
                    break;
                case Kind.Stos:
                    cpu.WriteLogical(X86Cpu.ES, di, size, cpu.ReadGpr(X86Cpu.RAX, size));
                    Advance(cpu, X86Cpu.RDI, addrSize, step, amask);
                    break;
                case Kind.Ins:
                    {
                        // The destination is checked before the port is read.
                        _ = cpu.LinearAddress(X86Cpu.ES, di, size, Memory.AccessKind.Write);
                        uint v = cpu.Ports.In((ushort)cpu.ReadGpr(X86Cpu.RDX, 2), size);
                        cpu.WriteLogical(X86Cpu.ES, di, size, v);
                        Advance(cpu, X86Cpu.RDI, addrSize, step, amask);
                        break;
                    }

                case Kind.Outs:
                    cpu.Ports.Out((ushort)cpu.ReadGpr(X86Cpu.RDX, 2), size, (uint)cpu.ReadLogical(srcSeg, si, size));
                    Advance(cpu, X86Cpu.RSI, addrSize, step, amask);
                    break;
            }

            if (!repeat)
                return;
            cpu.WriteGpr(X86Cpu.RCX, addrSize, cpu.ReadGpr(X86Cpu.RCX, addrSize) - 1);
            if (compares)
            {
                bool zf = cpu.Condition(4);
                if ((i.HasRepePrefix && !zf) || (i.HasRepnePrefix && zf))
                    return;
            }
        }
    }

    private static void ZeroExtendRegisters(X86Cpu cpu, Kind kind, bool repeat)
    {
        if (kind is Kind.Movs or Kind.Cmps or Kind.Lods or Kind.Outs)
            cpu.WriteGpr(X86Cpu.RSI, 4, cpu.ReadGpr(X86Cpu.RSI, 4));
        if (kind is Kind.Movs or Kind.Cmps or Kind.Scas or Kind.Stos or Kind.Ins)
            cpu.WriteGpr(X86Cpu.RDI, 4, cpu.ReadGpr(X86Cpu.RDI, 4));
        if (repeat)
            cpu.WriteGpr(X86Cpu.RCX, 4, cpu.ReadGpr(X86Cpu.RCX, 4));
    }

    private static void Advance(X86Cpu cpu, int reg, int addrSize, long step, ulong mask) =>
        cpu.WriteGpr(reg, addrSize, (cpu.ReadGpr(reg, addrSize) + (ulong)step) & mask);

    /// <summary>Address size from the string operand kinds (SI/ESI/RSI, DI/EDI/RDI).</summary>
    private static int AddressSize(in Instruction i)
    {
        for (int n = 0; n < i.OpCount; n++)
        {
            switch (i.GetOpKind(n))
            {
                case OpKind.MemorySegSI or OpKind.MemoryESDI or OpKind.MemorySegDI:
                    return 2;
                case OpKind.MemorySegESI or OpKind.MemoryESEDI or OpKind.MemorySegEDI:
                    return 4;
                case OpKind.MemorySegRSI or OpKind.MemoryESRDI or OpKind.MemorySegRDI:
                    return 8;
            }
        }

        return 4;
    }
}
