using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest.Image;

namespace Xtf.Core.Guest.Runtime;

public sealed partial class GuestRuntime
{
    /// <summary>
    /// XTF's xtf_set_idte (HVM): writes an interrupt gate for <paramref name="vector"/> with
    /// <paramref name="cs"/> (0: the kernel code segment, __KERN_CS) into the IDT, as a
    /// kernel-mode store: 8 bytes (32-bit gate) in the 32-bit environments, 16 bytes (64-bit
    /// gate, IST 0) in hvm64.
    /// </summary>
    public void SetIdtEntry(int vector, ulong handler, int dpl, bool present, ushort cs = 0)
    {
        if (vector is < 0 or > 255)
            throw new ArgumentOutOfRangeException(nameof(vector));
        if (cs == 0)
            cs = KernelCs;
        if (IsPv)
        {
            SetTrapTableEntry(vector, present ? handler : 0, dpl, cs);
            return;
        }

        if (Bitness == 64)
        {
            WriteKernelBytes(HvmLayout.Idt + (ulong)(vector * 16),
                HvmImageBuilder.Gate64(SystemDescriptorType.InterruptGate64, cs, handler, dpl, 0, present));
            return;
        }

        var gate = SegmentDescriptor.Gate(SystemDescriptorType.InterruptGate32, cs, (uint)handler, dpl, present);
        WriteKernelBytes(HvmLayout.Idt + (ulong)(vector * 8), BitConverter.GetBytes(gate.Raw));
    }
}
