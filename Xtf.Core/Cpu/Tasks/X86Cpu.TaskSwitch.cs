namespace Xtf.Core.Cpu;

/// <summary>What started a task switch (SDM vol. 3, 7.3, table 7-2): decides busy bits, NT and the back-link.</summary>
public enum TaskSwitchReason
{
    /// <summary>JMP to a TSS descriptor or task gate.</summary>
    Jump,

    /// <summary>CALL to a TSS descriptor or task gate: NT set and back-link written in the new TSS.</summary>
    Call,

    /// <summary>An exception, interrupt or INT n through a task gate in the IDT: as CALL.</summary>
    Interrupt,

    /// <summary>IRET with EFLAGS.NT set: return to the task named by the back-link.</summary>
    Iret,
}

public sealed partial class X86Cpu
{
    /// <summary>
    /// Switches to the task whose TSS descriptor <paramref name="tssSelector"/> names (SDM vol. 3,
    /// 7.3). <paramref name="returnRip"/> is the EIP saved in the outgoing TSS; an error code, if
    /// any, is pushed on the new task's stack. Not implemented yet: raises #GP(selector).
    /// </summary>
    internal void SwitchTask(ushort tssSelector, TaskSwitchReason reason, ulong returnRip, uint? errorCode = null, bool external = false)
    {
        _ = reason;
        _ = returnRip;
        _ = errorCode;
        throw CpuFault.GP(SelectorErrorCode(tssSelector, external));
    }
}
