using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Guest;

public abstract partial class TestCase
{
    /// <summary>Writes a descriptor into one of the GDT slots free for tests (9-14 in HVM), as a kernel-mode store.</summary>
    protected void SetGdtEntry(int index, SegmentDescriptor descriptor) => Runtime.SetGdtEntry(index, descriptor);
}
