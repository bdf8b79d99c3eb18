using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest.Image;

namespace Xtf.Core.Guest.Runtime;

public sealed partial class GuestRuntime
{
    /// <summary>
    /// XTF's xtf_set_idte (HVM): writes a 32-bit interrupt gate for <paramref name="vector"/>
    /// with the kernel code segment into the IDT, as a kernel-mode store.
    /// </summary>
    public void SetIdtEntry(int vector, ulong handler, int dpl, bool present)
    {
        if (vector is < 0 or > 255)
            throw new ArgumentOutOfRangeException(nameof(vector));
        var gate = SegmentDescriptor.Gate(SystemDescriptorType.InterruptGate32, HvmLayout.KernelCs, (uint)handler, dpl, present);
        WriteKernelBytes(HvmLayout.Idt + (ulong)(vector * 8), BitConverter.GetBytes(gate.Raw));
    }
}
