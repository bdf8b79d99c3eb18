namespace Xtf.Core.Xen;

/// <summary>Hypercall numbers from Xen's public ABI (xen/include/public/xen.h).</summary>
public static class HypercallNumber
{
    /// <summary>__HYPERVISOR_set_trap_table: PV only, registers the virtual IDT as an array of trap_info (vector, flags with DPL, CS, address).</summary>
    public const int SetTrapTable = 0;
    /// <summary>__HYPERVISOR_mmu_update: PV only, batched page-table entry writes (mmu_update_t: ptr with MMU_* command in the low bits, val), validated by Xen.</summary>
    public const int MmuUpdate = 1;
    /// <summary>__HYPERVISOR_set_gdt: PV only, installs a GDT from a list of frames and an entry count.</summary>
    public const int SetGdt = 2;
    /// <summary>__HYPERVISOR_stack_switch: PV only, sets the guest kernel's SS:ESP/RSP for entries from user mode (its TSS.SS0/ESP0).</summary>
    public const int StackSwitch = 3;
    /// <summary>__HYPERVISOR_set_callbacks: PV only, event and failsafe callback addresses (superseded by callback_op).</summary>
    public const int SetCallbacks = 4;
    /// <summary>__HYPERVISOR_fpu_taskswitch: PV only, sets (1) or clears (0) the virtual CR0.TS.</summary>
    public const int FpuTaskswitch = 5;
    /// <summary>__HYPERVISOR_sched_op_compat: the pre-3.0.2 sched_op (command plus scalar argument).</summary>
    public const int SchedOpCompat = 6;
    /// <summary>__HYPERVISOR_platform_op: control-domain platform operations.</summary>
    public const int PlatformOp = 7;
    /// <summary>__HYPERVISOR_set_debugreg: PV only, writes DRn (register number, value), with Xen's validity checks.</summary>
    public const int SetDebugreg = 8;
    /// <summary>__HYPERVISOR_get_debugreg: PV only, reads DRn.</summary>
    public const int GetDebugreg = 9;
    /// <summary>__HYPERVISOR_update_descriptor: PV only, writes one 8-byte GDT/LDT descriptor at a machine address after Xen validates it.</summary>
    public const int UpdateDescriptor = 10;
    /// <summary>__HYPERVISOR_memory_op: memory reservation and physmap operations (public/memory.h).</summary>
    public const int MemoryOp = 12;
    /// <summary>__HYPERVISOR_multicall: a batch of multicall_entry_t, each hypercall's result written back to its entry.</summary>
    public const int Multicall = 13;
    /// <summary>__HYPERVISOR_update_va_mapping: PV only, writes the L1 entry that maps one linear address, with UVMF_* flush flags.</summary>
    public const int UpdateVaMapping = 14;
    /// <summary>__HYPERVISOR_set_timer_op: one-shot timer at an absolute system time in ns.</summary>
    public const int SetTimerOp = 15;
    /// <summary>__HYPERVISOR_event_channel_op_compat: the pre-3.0.2 event_channel_op (one evtchn_op struct with the command inside).</summary>
    public const int EventChannelOpCompat = 16;
    /// <summary>__HYPERVISOR_xen_version: version and build information (public/version.h, <see cref="XenVersionCommand"/>).</summary>
    public const int XenVersion = 17;
    /// <summary>__HYPERVISOR_console_io: write to or read from Xen's console (<see cref="ConsoleIoCommand"/>).</summary>
    public const int ConsoleIo = 18;
    /// <summary>__HYPERVISOR_physdev_op_compat: the pre-3.0.2 physdev_op.</summary>
    public const int PhysdevOpCompat = 19;
    /// <summary>__HYPERVISOR_grant_table_op (public/grant_table.h).</summary>
    public const int GrantTableOp = 20;
    /// <summary>__HYPERVISOR_vm_assist: enables or disables a VMASST_TYPE_* assist for the domain.</summary>
    public const int VmAssist = 21;
    /// <summary>__HYPERVISOR_update_va_mapping_otherdomain: update_va_mapping of another domain's frame.</summary>
    public const int UpdateVaMappingOtherdomain = 22;
    /// <summary>__HYPERVISOR_iret: PV only, returns from an exception or event callback using the iret_context frame on the guest stack (public/arch-x86/xen-x86_*.h).</summary>
    public const int Iret = 23;
    /// <summary>__HYPERVISOR_vcpu_op: per-vCPU operations (public/vcpu.h).</summary>
    public const int VcpuOp = 24;
    /// <summary>__HYPERVISOR_set_segment_base: 64-bit PV only, writes the FS, user GS or kernel GS base, or loads the user GS selector (SEGBASE_*).</summary>
    public const int SetSegmentBase = 25;
    /// <summary>__HYPERVISOR_mmuext_op: PV only, extended MMU operations (pin/unpin tables, new base pointer, TLB flushes, set LDT).</summary>
    public const int MmuextOp = 26;
    /// <summary>__HYPERVISOR_xsm_op: XSM/FLASK security operations.</summary>
    public const int XsmOp = 27;
    /// <summary>__HYPERVISOR_nmi_op: NMI callback registration.</summary>
    public const int NmiOp = 28;
    /// <summary>__HYPERVISOR_sched_op: yield, block, shutdown and friends (public/sched.h, <see cref="SchedOpCommand"/>).</summary>
    public const int SchedOp = 29;
    /// <summary>__HYPERVISOR_callback_op: registers or unregisters a callback (event, failsafe, syscall, sysenter, NMI) by CALLBACKTYPE_*.</summary>
    public const int CallbackOp = 30;
    /// <summary>__HYPERVISOR_xenoprof_op: profiling.</summary>
    public const int XenoprofOp = 31;
    /// <summary>__HYPERVISOR_event_channel_op: EVTCHNOP_* command plus argument struct (public/event_channel.h).</summary>
    public const int EventChannelOp = 32;
    /// <summary>__HYPERVISOR_physdev_op: PHYSDEVOP_* (includes PHYSDEVOP_set_iopl for PV guests' virtual IOPL).</summary>
    public const int PhysdevOp = 33;
    /// <summary>__HYPERVISOR_hvm_op: HVMOP_* (get/set HVM parameters and the like; public/hvm/hvm_op.h).</summary>
    public const int HvmOp = 34;
    /// <summary>__HYPERVISOR_sysctl: control-domain system-wide operations.</summary>
    public const int Sysctl = 35;
    /// <summary>__HYPERVISOR_domctl: control-domain per-domain operations.</summary>
    public const int Domctl = 36;

    /// <summary>Our extension (DESIGN.md section 5): the spare x86 arch_2 slot.</summary>
    public const int SetHypercallIopl = 50;

    /// <summary>Slots in the 4 KiB hypercall page, 32 bytes each.</summary>
    public const int PageSlots = 128;
}

/// <summary>Error values hypercalls return, negated (xen/include/public/errno.h).</summary>
public static class XenErrno
{
    /// <summary>XEN_EPERM: operation not permitted (e.g. a privileged op from the wrong mode or domain).</summary>
    public const int EPERM = 1;
    /// <summary>XEN_ENOENT: no such entry.</summary>
    public const int ENOENT = 2;
    /// <summary>XEN_ESRCH: no such domain or vCPU.</summary>
    public const int ESRCH = 3;
    /// <summary>XEN_ENOMEM: out of memory (e.g. no free frame for an allocation).</summary>
    public const int ENOMEM = 12;
    /// <summary>XEN_EACCES: permission denied.</summary>
    public const int EACCES = 13;
    /// <summary>XEN_EFAULT: a guest buffer could not be copied to or from.</summary>
    public const int EFAULT = 14;
    /// <summary>XEN_ERRNO(ERESTART, 85): Xen-internal, the hypercall is to be continued; a continuation replaces it before the guest sees it.</summary>
    public const int ERESTART = 85;
    /// <summary>XEN_EBUSY: resource busy (e.g. a page still in use).</summary>
    public const int EBUSY = 16;
    /// <summary>XEN_EEXIST: already exists (e.g. an event channel already bound).</summary>
    public const int EEXIST = 17;
    /// <summary>XEN_ENODEV: no such device.</summary>
    public const int ENODEV = 19;
    /// <summary>XEN_EINVAL: invalid argument.</summary>
    public const int EINVAL = 22;
    /// <summary>XEN_ENOSPC: no space left (e.g. no free event-channel port).</summary>
    public const int ENOSPC = 28;
    /// <summary>XEN_EDOM: argument out of domain.</summary>
    public const int EDOM = 33;
    /// <summary>XEN_ERANGE: result out of range (e.g. a grant entry v1 cannot represent).</summary>
    public const int ERANGE = 34;
    /// <summary>XEN_ENOSYS: no such hypercall or sub-operation.</summary>
    public const int ENOSYS = 38;
    /// <summary>XEN_EOPNOTSUPP: operation not supported (e.g. steal_page on an HVM domain's page).</summary>
    public const int EOPNOTSUPP = 95;
    /// <summary>XEN_ENOBUFS: no buffer space available.</summary>
    public const int ENOBUFS = 105;
}

/// <summary>console_io commands (public/xen.h).</summary>
public static class ConsoleIoCommand
{
    /// <summary>CONSOLEIO_write: writes <c>count</c> bytes from a guest buffer to Xen's console.</summary>
    public const int Write = 0;
    /// <summary>CONSOLEIO_read: reads from Xen's console input (control domain only).</summary>
    public const int Read = 1;
}

/// <summary>sched_op commands and shutdown reasons (public/sched.h).</summary>
public static class SchedOpCommand
{
    /// <summary>SCHEDOP_yield: voluntarily yield the vCPU.</summary>
    public const int Yield = 0;
    /// <summary>SCHEDOP_block: block until an event is pending.</summary>
    public const int Block = 1;
    /// <summary>SCHEDOP_shutdown: stop the domain; argument sched_shutdown_t with a <see cref="ShutdownReason"/>.</summary>
    public const int Shutdown = 2;
    /// <summary>SCHEDOP_poll: block until one of a list of event-channel ports is pending or a timeout passes.</summary>
    public const int Poll = 3;
    /// <summary>SCHEDOP_remote_shutdown: shut down another domain (control domain).</summary>
    public const int RemoteShutdown = 4;
    /// <summary>SCHEDOP_shutdown_code: record the reason for a later shutdown without stopping.</summary>
    public const int ShutdownCode = 5;
    /// <summary>SCHEDOP_watchdog: arm, re-arm or stop a domain watchdog.</summary>
    public const int Watchdog = 6;
}

/// <summary>SHUTDOWN_* reasons of SCHEDOP_shutdown (xen/include/public/sched.h).</summary>
public enum ShutdownReason
{
    /// <summary>SHUTDOWN_poweroff: the domain exited normally (XTF's xtf_exit after any result).</summary>
    Poweroff = 0,
    /// <summary>SHUTDOWN_reboot: clean restart requested.</summary>
    Reboot = 1,
    /// <summary>SHUTDOWN_suspend: clean suspend.</summary>
    Suspend = 2,
    /// <summary>SHUTDOWN_crash: the domain crashed (XTF's panic(); Xen uses it for fatal guest errors).</summary>
    Crash = 3,
    /// <summary>SHUTDOWN_watchdog: the domain watchdog fired.</summary>
    Watchdog = 4,
    /// <summary>SHUTDOWN_soft_reset: restart the domain without tearing it down (kexec).</summary>
    SoftReset = 5,
}

/// <summary>xen_version sub-ops (public/version.h).</summary>
public static class XenVersionCommand
{
    /// <summary>XENVER_version: returns (major &lt;&lt; 16) | minor.</summary>
    public const int Version = 0;
    /// <summary>XENVER_extraversion: xen_extraversion_t, 16 bytes NUL-terminated (e.g. ".0").</summary>
    public const int Extraversion = 1;
    /// <summary>XENVER_compile_info: xen_compile_info_t (compiler, compile_by, compile_domain, compile_date).</summary>
    public const int CompileInfo = 2;
    /// <summary>XENVER_capabilities: xen_capabilities_info_t, 1024 bytes (e.g. "xen-3.0-x86_64 hvm-3.0-x86_32").</summary>
    public const int Capabilities = 3;
    /// <summary>XENVER_changeset: xen_changeset_info_t, 64 bytes.</summary>
    public const int Changeset = 4;
    /// <summary>XENVER_platform_parameters: xen_platform_parameters_t, the hypervisor's virt_start.</summary>
    public const int PlatformParameters = 5;
    /// <summary>XENVER_get_features: xen_feature_info_t, one 32-bit submap of XENFEAT_* flags by submap_idx.</summary>
    public const int GetFeatures = 6;
    /// <summary>XENVER_pagesize: returns the page size in bytes (4096 on x86).</summary>
    public const int Pagesize = 7;
    /// <summary>XENVER_guest_handle: xen_domain_handle_t, the domain's 16-byte UUID.</summary>
    public const int GuestHandle = 8;
    /// <summary>XENVER_commandline: xen_commandline_t, Xen's command line, 1024 bytes.</summary>
    public const int Commandline = 9;
    /// <summary>XENVER_build_id: xen_build_id_t, the hypervisor's build ID (len in, bytes out).</summary>
    public const int BuildId = 10;
    /// <summary>XENVER_extraversion2: extraversion through xen_varbuf_t (non-truncating; returns the length, no NUL).</summary>
    public const int Extraversion2 = 11;
    /// <summary>XENVER_capabilities2: capabilities through xen_varbuf_t.</summary>
    public const int Capabilities2 = 12;
    /// <summary>XENVER_changeset2: changeset through xen_varbuf_t.</summary>
    public const int Changeset2 = 13;
    /// <summary>XENVER_commandline2: command line through xen_varbuf_t.</summary>
    public const int Commandline2 = 14;
}
