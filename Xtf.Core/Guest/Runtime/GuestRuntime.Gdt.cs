using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest.Image;

namespace Xtf.Core.Guest.Runtime;

public sealed partial class GuestRuntime
{
    /// <summary>The last of the GDT slots XTF leaves to tests (GDTE_AVAIL0 is 9).</summary>
    private const int LastAvailableGdtEntry = 14;

    /// <summary>
    /// Writes GDT entry <paramref name="index"/> as a kernel-mode store (XTF: <c>gdt[i] = ...</c>
    /// followed by the barrier a test does before using it). Only the slots XTF leaves to tests
    /// (<see cref="HvmLayout.GdteAvail0"/> to 14) may be written: the others are the runtime's.
    /// A PV guest's GDT page is read-only to it: the entry is written by update_descriptor (XTF's
    /// update_desc), which checks it as Xen's check_descriptor does; a refusal panics.
    /// </summary>
    public void SetGdtEntry(int index, SegmentDescriptor descriptor)
    {
        if (index < HvmLayout.GdteAvail0 || index > LastAvailableGdtEntry)
            throw new ArgumentOutOfRangeException(nameof(index), $"GDT slots {HvmLayout.GdteAvail0}-{LastAvailableGdtEntry} are free for tests");
        if (IsPv)
        {
            UpdateDescriptor(HvmLayout.Gdt + (ulong)(index * 8), descriptor.Raw);
            return;
        }

        WriteKernelBytes(HvmLayout.Gdt + (ulong)(index * 8), BitConverter.GetBytes(descriptor.Raw));
    }
}
