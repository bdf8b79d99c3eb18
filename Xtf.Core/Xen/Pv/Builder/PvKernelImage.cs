namespace Xtf.Core.Xen.Pv.Builder;

/// <summary>
/// What the domain builder learns from a PV kernel's ELF notes (XEN_ELFNOTE_ENTRY,
/// XEN_ELFNOTE_HYPERCALL_PAGE; virtual base 0, so virtual = pseudo-physical) and the loaded
/// image's end. The image itself is already in guest memory.
/// </summary>
public sealed record PvKernelImage(ulong Entry, ulong HypercallPage, ulong ImageEnd, string CommandLine = "");

/// <summary>Where the builder put the start-of-day structures (all guest virtual addresses).</summary>
public sealed record PvStartOfDay(ulong StartInfo, ulong PageTableBase, int PageTableFrames, ulong MfnList, ulong StackTop, ulong MappedEnd);
