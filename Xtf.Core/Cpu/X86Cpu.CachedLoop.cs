using System.Runtime.CompilerServices;
using Xtf.Core.Cpu.Decoding;
using Xtf.Core.Cpu.Execution;
using Xtf.Core.Cpu.Execution.Fast;

namespace Xtf.Core.Cpu;

/// <summary>
/// The hot loop (DESIGN.md section 7): runs micro-ops straight out of the fetch window while
/// nothing needs the per-instruction debug bookkeeping of <see cref="Step"/>. It hands back to
/// <see cref="Step"/> for anything else: a fetch outside the window, an instruction not cached
/// (one that crosses a page), MOV SS / POP SS, a CS-limit fault, or a debug feature armed.
/// </summary>
public sealed partial class X86Cpu
{
    /// <summary>
    /// True when the next boundaries need no debug work: TF clear (no single-step trap), no DR7
    /// breakpoint enabled (no instruction or data breakpoint can match), and no MOV SS shadow with
    /// traps held over it (SDM vol. 3, 18.3.1 and 6.8.3). In that state <see cref="Step"/>'s
    /// epilogue does nothing for any instruction but MOV SS / POP SS, which stay with it.
    /// </summary>
    private bool CanRunCached =>
        ((eflags & RFlags.TF) | ((uint)Dr[7] & 0xFF)) == 0 && !debugShadow && heldDebugTraps == 0;

    /// <summary>
    /// Executes cached instructions until one needs <see cref="Step"/>; returns a reason if the CPU
    /// stops. The loop invariants (window, CS base and limit, code size) are re-read after every
    /// general-handler instruction, since those may change them; specialised forms cannot, and a
    /// store that hits the code frame closes the window, which the next fetch sees.
    /// </summary>
    /// <summary>Compiles the hot block starting at <paramref name="offset"/>; its index in the frame, or -1.</summary>
    private int CompileBlock(DecodeCache.CodeFrame frame, int offset)
    {
        if (BlockCompiler.Compile(frame.Ops, offset, fetchPage) is not { } block)
            return -1;
        frame.Blocks.Add(block);
        return frame.Blocks.Count - 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe StopReason? RunCached()
    {
        try
        {
            while (budget > 0 && fetchFrame is { } frame)
            {
                int bitness = Bitness;
                var cs = Segments[CS];
                ulong csBase = bitness == 64 ? 0 : cs.Base;
                ulong linearMask = bitness == 64 ? ulong.MaxValue : 0xFFFFFFFF;
                ulong limit = bitness == 64 ? ulong.MaxValue : cs.Limit;
                var ops = frame.Ops;

                // RF is cleared as each instruction starts (SDM vol. 3, 18.3.1.1); the specialised
                // forms never set it, so once per entry is enough for them.
                eflags &= ~RFlags.RF;
                while (true)
                {
                    ulong rip = Rip;
                    ulong linear = (csBase + rip) & linearMask;
                    if ((linear >> 12) != fetchPage || budget <= 0)
                        return null;
                    int offset = (int)(linear & 0xFFF);
                    ref MicroOp op = ref ops[offset];
                    if (op.Rip != rip || op.LastByte > limit)
                        return null;
                    if (op.Mode == bitness)
                    {
                        if (op.Block > 0 && frame.Blocks[op.Block] is { } block && block.LastByte <= limit && budget >= block.Count)
                        {
                            Rip = block.Run(this);
                            continue;
                        }

                        if (op.Block == 0 && ++op.Heat >= BlockCompiler.Threshold)
                            op.Block = CompileBlock(frame, offset);
                        Rip = op.Fast(this, in op);
                        budget--;
                        continue;
                    }

                    // A general-handler instruction (or a stale or step-only entry, left to Step).
                    if (op.Mode != (bitness | MicroOp.General))
                        return null;
                    NextRip = op.NextRip;
                    InstructionTable.Execute(this, in frame.Instructions[offset]);
                    Rip = NextRip;
                    budget--;
                    if (stopRequested || !CanRunCached)
                        return null;
                    break;
                }
            }

            return null;
        }
        catch (CpuFault fault)
        {
            return TakeFault(fault);
        }
        catch (HaltException)
        {
            return Halt();
        }
    }
}
