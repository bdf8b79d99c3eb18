using Iced.Intel;
using Xtf.Core.Guest.Image;

namespace Xtf.Core.Guest.Runtime;

public sealed partial class GuestRuntime
{
    /// <summary>
    /// Assembles permanent user code (XTF's <c>.text.user</c>: code a test jumps to at CPL 3 by
    /// means of its own, such as the target of a HYPERVISOR_iret) for the user code segment
    /// <see cref="UserCs"/>, and returns its address. Called from the kernel outside any
    /// exec_user, it takes the next free user text and keeps it.
    /// </summary>
    public ulong AssembleUserCode(Action<Assembler> emit)
    {
        if (InUserMode || execFrames.Count != 0)
            throw new InvalidOperationException("user code is assembled by the kernel, outside Exec and ExecUser");
        ulong at = userTextTop;
        var code = X86Assembly.Assemble(Bitness, at, emit);
        if (at + (ulong)code.Bytes.Length > HvmLayout.UserText + HvmLayout.UserTextSize)
            throw new InvalidOperationException("user text full");
        WriteCode(at, code.Bytes);
        userTextTop = at + (((ulong)code.Bytes.Length + 15) & ~15ul);
        return at;
    }
}
