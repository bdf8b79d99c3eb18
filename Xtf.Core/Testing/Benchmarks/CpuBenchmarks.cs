using System.Diagnostics;
using System.Runtime.CompilerServices;
using Iced.Intel;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Core.Testing.Benchmarks;

/// <summary>One workload's figure: instructions retired per second of wall time.</summary>
/// <param name="Name">The workload, one of <see cref="CpuBenchmarks.Names"/>.</param>
/// <param name="Instructions">Instructions the CPU retired.</param>
/// <param name="Elapsed">Wall time of the run loop alone (machine setup and assembly excluded).</param>
/// <param name="Problem">Null when the run ended by exhausting its budget, as it should; otherwise the early stop reason and RIP.</param>
public sealed record BenchResult(string Name, long Instructions, TimeSpan Elapsed, string? Problem)
{
    /// <summary>Millions of instructions retired per second of <see cref="Elapsed"/>.</summary>
    public double Mips => Instructions / Elapsed.TotalSeconds / 1e6;
}

/// <summary>
/// Guest workloads for <c>xtf-runner bench</c>: an ALU loop, a memory loop, an INT/IRET loop and a
/// far-call-gate loop (issue 3), and the ALU and memory loops again in 64-bit mode under 4-level
/// paging (issue 4), each run on a fresh machine for a fixed instruction count; and the raw Iced
/// decode rate in the same process, the yardstick the CPU's figures are compared with.
/// </summary>
public static class CpuBenchmarks
{
    /// <summary>The workload names <see cref="Run"/> accepts, <c>xtf-runner bench</c>'s default set, in the order it runs them.</summary>
    public static IReadOnlyList<string> Names { get; } = ["alu", "memory", "int-iret", "call-gate", "alu-paged", "memory-paged"];

    /// <summary>
    /// Runs workload <paramref name="name"/> on a fresh machine until it has retired <paramref name="instructions"/>
    /// (the instruction budget; the loops never end on their own). An unknown name is an <see cref="ArgumentException"/>.
    /// </summary>
    public static BenchResult Run(string name, long instructions)
    {
        var machine = new BareMachine(instructions);
        switch (name)
        {
            case "alu":
                machine.Load(AluLoop);
                break;
            case "memory":
                machine.Load(a =>
                {
                    var outer = a.CreateLabel();
                    var inner = a.CreateLabel();
                    a.Label(ref outer);
                    a.mov(esi, BareMachine.DataBase);
                    a.mov(ecx, 0x4000);
                    a.Label(ref inner);
                    a.mov(eax, __dword_ptr[esi]);
                    a.add(eax, ecx);
                    a.mov(__dword_ptr[esi + 0x10000], eax);
                    a.add(esi, 4);
                    a.dec(ecx);
                    a.jnz(inner);
                    a.jmp(outer);
                });
                break;
            case "int-iret":
                {
                    var handler = default(Label);
                    machine.Load(a =>
                    {
                        var top = a.CreateLabel();
                        handler = a.CreateLabel();
                        a.Label(ref top);
                        a.@int(0x80);
                        a.jmp(top);
                        a.Label(ref handler);
                        a.iretd();
                    }, c => (0, c.LabelAddress(handler)));
                    break;
                }

            case "call-gate":
                {
                    var target = default(Label);
                    machine.Load(a =>
                    {
                        var top = a.CreateLabel();
                        target = a.CreateLabel();
                        a.Label(ref top);
                        a.AddInstruction(Instruction.CreateBranch(Code.Call_ptr1632, BareMachine.CallGate, 0));
                        a.jmp(top);
                        a.Label(ref target);
                        a.retf();
                    }, c => (c.LabelAddress(target), 0));
                    break;
                }

            case "alu-paged":
                // The ALU loop in 64-bit mode under 4-level paging: only instruction fetch is
                // translated, through the fetch window and the TLB.
                machine.Load64(AluLoop);
                break;
            case "memory-paged":
                // The memory loop in 64-bit mode over 16 MiB of 4 KiB pages: every access goes
                // through the TLB, and the working set (4096 pages) is larger than it.
                machine.Load64(a =>
                {
                    var outer = a.CreateLabel();
                    var inner = a.CreateLabel();
                    a.Label(ref outer);
                    a.mov(rsi, BareMachine.DataBase);
                    a.mov(ecx, 0x1000);
                    a.Label(ref inner);
                    a.mov(eax, __dword_ptr[rsi]);
                    a.add(eax, ecx);
                    a.mov(__dword_ptr[rsi + 0x800], eax);
                    a.add(rsi, 0x1000);
                    a.dec(ecx);
                    a.jnz(inner);
                    a.jmp(outer);
                });
                break;
            default:
                throw new ArgumentException($"unknown workload '{name}'", nameof(name));
        }

        var sw = Stopwatch.StartNew();
        var stop = machine.Cpu.Run();
        sw.Stop();
        string? problem = stop == StopReason.BudgetExhausted ? null : $"stopped early: {stop} at {machine.Cpu.Rip:x8}";
        return new BenchResult(name, machine.Cpu.Retired, sw.Elapsed, problem);
    }

    /// <summary>The ALU loop: register-only integer operations and a conditional branch (the same instructions in 32- and 64-bit code).</summary>
    private static void AluLoop(Assembler a)
    {
        var top = a.CreateLabel();
        a.Label(ref top);
        a.add(eax, ebx);
        a.xor(edx, eax);
        a.sub(ebx, 3);
        a.shl(esi, 1);
        a.or(edi, edx);
        a.dec(ecx);
        a.jnz(top);
        a.jmp(top);
    }

    /// <summary>
    /// Instructions per second Iced's decoder manages on the ALU loop's bytes, decoding only. The
    /// loop is compiled fully optimised from the start, so the yardstick never runs unoptimised code.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double RawDecodeRate(long instructions)
    {
        var asm = new Assembler(32);
        for (int i = 0; i < 256; i++)
        {
            asm.add(eax, ebx);
            asm.xor(edx, eax);
            asm.sub(ebx, 3);
            asm.mov(eax, __dword_ptr[esi + 0x10]);
            asm.dec(ecx);
        }

        var stream = new MemoryStream();
        asm.Assemble(new StreamCodeWriter(stream), 0);
        byte[] code = stream.ToArray();
        var reader = new ByteArrayCodeReader(code);
        var decoder = Decoder.Create(32, reader);
        long done = 0;
        var sw = Stopwatch.StartNew();
        while (done < instructions)
        {
            reader.Position = 0;
            decoder.IP = 0;
            while (reader.CanReadByte)
            {
                decoder.Decode(out var insn);
                _ = insn.Length;
                done++;
            }
        }

        return done / sw.Elapsed.TotalSeconds;
    }
}
