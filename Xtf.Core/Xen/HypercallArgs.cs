namespace Xtf.Core.Xen;

/// <summary>
/// The five hypercall arguments. HVM ABI: 32-bit guests pass them in EBX, ECX, EDX, ESI, EDI;
/// 64-bit guests in RDI, RSI, RDX, R10, R8; the number is in EAX and the result goes to EAX/RAX.
/// </summary>
public readonly record struct HypercallArgs(ulong A1, ulong A2, ulong A3, ulong A4, ulong A5);
