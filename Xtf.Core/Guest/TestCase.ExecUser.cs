using Iced.Intel;
using Xtf.Core.Guest.Runtime;

namespace Xtf.Core.Guest;

public abstract partial class TestCase
{
    /// <summary>
    /// XTF's exec_user: runs an x86 snippet at CPL 3 (a real IRET to user text on the user stack,
    /// back through the DPL 3 vector X86_VEC_RET2KERN) and returns the exception it took there,
    /// or <see cref="ExInfo.None"/>. In hvm64 the snippet is 64-bit code unless
    /// <see cref="ExecUserCs"/> names a compatibility-mode segment.
    /// </summary>
    protected ExInfo ExecUser(Action<Assembler> code) => Runtime.ExecUser(code).Fault;

    /// <summary>
    /// XTF's exec_user_param: <paramref name="body"/> runs at CPL 3 (called from user text on the
    /// user stack), receives <paramref name="param"/>, and its result is returned. x86 it runs
    /// with <see cref="Exec"/> executes at CPL 3.
    /// </summary>
    protected ulong ExecUser(Func<ulong, ulong> body, ulong param) => Runtime.ExecUser(body, param);

    /// <summary>XTF's exec_user: <paramref name="body"/> runs at CPL 3 and its result is returned.</summary>
    protected ulong ExecUser(Func<ulong> body) => Runtime.ExecUser(_ => body(), 0);

    /// <summary>ExecUser returning the registers at the end of the snippet too; <paramref name="faults"/> picks the extable behaviour.</summary>
    protected ExecResult ExecUserDetailed(Action<Assembler> code, ExecFaults faults = ExecFaults.Record, ExtableHandler? handler = null) =>
        Runtime.ExecUser(code, faults, handler);

    /// <summary>XTF's exec_user_cs; 0 (the default) means __USER_CS (hvm64: the 64-bit user code segment).</summary>
    protected ushort ExecUserCs { get => Runtime.ExecUserCs; set => Runtime.ExecUserCs = value; }

    /// <summary>XTF's exec_user_ss (default __USER_DS).</summary>
    protected ushort ExecUserSs { get => Runtime.ExecUserSs; set => Runtime.ExecUserSs = value; }

    /// <summary>XTF's exec_user_efl_and_mask (default all ones: the kernel's EFLAGS pass through).</summary>
    protected ulong ExecUserEflagsAndMask { get => Runtime.ExecUserEflagsAndMask; set => Runtime.ExecUserEflagsAndMask = value; }

    /// <summary>XTF's exec_user_efl_or_mask (default 0); for example <c>RFlags.IOPL</c> to run user code with IOPL 3.</summary>
    protected ulong ExecUserEflagsOrMask { get => Runtime.ExecUserEflagsOrMask; set => Runtime.ExecUserEflagsOrMask = value; }
}
