using Iced.Intel;

namespace Xtf.Core.Guest.Runtime;

/// <summary>
/// The exception-table entries of one <see cref="GuestRuntime.ExecAsm"/> snippet, named by labels
/// as XTF's inline asm names them (include/xtf/extable.h). Name a label after placing it
/// (<c>a.Label(ref l)</c>), as _ASM_EXTABLE follows its labels. The entries exist while the
/// snippet runs.
/// </summary>
public sealed class AsmExtable
{
    private readonly List<(Label Fault, Label Fixup, ExtableHandler? Handler)> pending = [];
    private AssembledCode? code;

    /// <summary>_ASM_EXTABLE(fault, fixup) or, with a handler, _ASM_EXTABLE_HANDLER(fault, fixup, handler).</summary>
    public void Add(Label fault, Label fixup, ExtableHandler? handler = null) => pending.Add((fault, fixup, handler));

    /// <summary>
    /// _ASM_TRAP_OK(at): an entry whose fixup is its own address, so a trap whose saved
    /// instruction pointer is <paramref name="at"/> (the instruction after an INT3, say) resumes there.
    /// </summary>
    public void TrapOk(Label at) => Add(at, at);

    /// <summary>A label's address, once the snippet has been assembled (for example inside a handler or hook).</summary>
    public ulong AddressOf(Label label) =>
        code?.LabelAddress(label) ?? throw new InvalidOperationException("the snippet has not been assembled yet");

    internal IEnumerable<ExtableEntry> Entries =>
        code is null ? [] : pending.Select(p => new ExtableEntry(code.LabelAddress(p.Fault), code.LabelAddress(p.Fixup), p.Handler));

    internal void Assembled(AssembledCode assembled) => code = assembled;
}
