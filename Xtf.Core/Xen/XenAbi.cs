namespace Xtf.Core.Xen;

/// <summary>Hypercall numbers from Xen's public ABI (xen/include/public/xen.h).</summary>
public static class HypercallNumber
{
    public const int SetTrapTable = 0;
    public const int MmuUpdate = 1;
    public const int SetGdt = 2;
    public const int StackSwitch = 3;
    public const int SetCallbacks = 4;
    public const int FpuTaskswitch = 5;
    public const int SchedOpCompat = 6;
    public const int PlatformOp = 7;
    public const int SetDebugreg = 8;
    public const int GetDebugreg = 9;
    public const int UpdateDescriptor = 10;
    public const int MemoryOp = 12;
    public const int Multicall = 13;
    public const int UpdateVaMapping = 14;
    public const int SetTimerOp = 15;
    public const int EventChannelOpCompat = 16;
    public const int XenVersion = 17;
    public const int ConsoleIo = 18;
    public const int PhysdevOpCompat = 19;
    public const int GrantTableOp = 20;
    public const int VmAssist = 21;
    public const int UpdateVaMappingOtherdomain = 22;
    public const int Iret = 23;
    public const int VcpuOp = 24;
    public const int SetSegmentBase = 25;
    public const int MmuextOp = 26;
    public const int XsmOp = 27;
    public const int NmiOp = 28;
    public const int SchedOp = 29;
    public const int CallbackOp = 30;
    public const int XenoprofOp = 31;
    public const int EventChannelOp = 32;
    public const int PhysdevOp = 33;
    public const int HvmOp = 34;
    public const int Sysctl = 35;
    public const int Domctl = 36;

    /// <summary>Our extension (DESIGN.md section 5): the spare x86 arch_2 slot.</summary>
    public const int SetHypercallIopl = 50;

    /// <summary>Slots in the 4 KiB hypercall page, 32 bytes each.</summary>
    public const int PageSlots = 128;
}

/// <summary>Error values hypercalls return, negated (xen/include/public/errno.h).</summary>
public static class XenErrno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int ESRCH = 3;
    public const int EACCES = 13;
    public const int EFAULT = 14;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int ENODEV = 19;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int EDOM = 33;
    public const int ENOSYS = 38;
    public const int ENOBUFS = 105;
}

/// <summary>console_io commands (public/xen.h).</summary>
public static class ConsoleIoCommand
{
    public const int Write = 0;
    public const int Read = 1;
}

/// <summary>sched_op commands and shutdown reasons (public/sched.h).</summary>
public static class SchedOpCommand
{
    public const int Yield = 0;
    public const int Block = 1;
    public const int Shutdown = 2;
    public const int Poll = 3;
    public const int RemoteShutdown = 4;
    public const int ShutdownCode = 5;
    public const int Watchdog = 6;
}

public enum ShutdownReason
{
    Poweroff = 0,
    Reboot = 1,
    Suspend = 2,
    Crash = 3,
    Watchdog = 4,
    SoftReset = 5,
}

/// <summary>xen_version sub-ops (public/version.h).</summary>
public static class XenVersionCommand
{
    public const int Version = 0;
    public const int Extraversion = 1;
    public const int CompileInfo = 2;
    public const int Capabilities = 3;
    public const int Changeset = 4;
    public const int PlatformParameters = 5;
    public const int GetFeatures = 6;
    public const int Pagesize = 7;
    public const int GuestHandle = 8;
    public const int Commandline = 9;
    public const int BuildId = 10;
    public const int Extraversion2 = 11;
    public const int Capabilities2 = 12;
    public const int Changeset2 = 13;
    public const int Commandline2 = 14;
}
