using System.Runtime.CompilerServices;
using Iced.Intel;

namespace Xtf.Core.Cpu;

public sealed partial class X86Cpu
{
    /// <summary>
    /// The fetch window: the last code page fetched from, with its translation and decoded
    /// instructions, like an instruction-TLB entry. It is dropped whenever anything that the
    /// translation or the decode depends on changes: CS, CPL or mode, CR0/CR3/CR4, EFER, INVLPG,
    /// or a write to the frame.
    /// </summary>
    private ulong fetchPage = ulong.MaxValue;
    private Decoding.DecodeCache.CodeFrame? fetchFrame;

    internal void InvalidateFetchWindow()
    {
        fetchPage = ulong.MaxValue;
        fetchFrame = null;
    }

    private void OpenFetchWindow(ulong linear, ulong physical)
    {
        fetchFrame = decodeCache.Frame(physical >> 12);
        fetchPage = fetchFrame is null ? ulong.MaxValue : linear >> 12;
    }

    private ref readonly Instruction FetchFromWindow(ulong linear, out bool hit)
    {
        var frame = fetchFrame;
        if ((linear >> 12) == fetchPage && frame is not null)
        {
            int offset = (int)(linear & 0xFFF);
            if (frame.Ops[offset].Bitness == Bitness && frame.Ops[offset].Rip == Rip)
            {
                hit = true;
                return ref frame.Instructions[offset];
            }
        }

        hit = false;
        return ref Unsafe.NullRef<Instruction>();
    }
}
