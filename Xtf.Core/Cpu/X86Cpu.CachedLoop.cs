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
    /// How far the CPU may speed up execution. Every tier gives the same architectural results; the
    /// lower ones exist to cross-check the higher ones and to narrow down an emulator bug.
    /// </summary>
    public ExecutionTier MaxTier { get; set; } = ExecutionTier.Compiled;

    /// <summary>
    /// True when the next boundaries need no debug work: TF clear (no single-step trap), no DR7
    /// breakpoint enabled (no instruction or data breakpoint can match), and no MOV SS shadow with
    /// traps held over it (SDM vol. 3, 18.3.1 and 6.8.3). In that state <see cref="Step"/>'s
    /// epilogue does nothing for any instruction but MOV SS / POP SS, which stay with it.
    /// </summary>
    private bool CanRunCached => MaxTier != ExecutionTier.Stepping &&
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

                        // Hot: compile the run starting here and take it at once (so the
                        // instructions it covers do not go on heating up blocks of their own).
                        if (op.Block == 0 && ++op.Heat >= BlockCompiler.Threshold && MaxTier == ExecutionTier.Compiled
                            && (op.Block = CompileBlock(frame, offset)) > 0)
                            continue;
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
        catch (InterceptCompleted)
        {
            return CompleteIntercept();
        }
    }
}

/// <summary>The execution tiers of <see cref="X86Cpu.MaxTier"/>.</summary>
public enum ExecutionTier
{
    /// <summary>Every instruction through the single-step path and the general handler of its mnemonic.</summary>
    Stepping,

    /// <summary>Cached instructions run in the hot loop, through their specialised forms where they have one.</summary>
    Specialised,

    /// <summary>As <see cref="Specialised"/>, and hot straight-line runs compiled into one method each.</summary>
    Compiled,
}
