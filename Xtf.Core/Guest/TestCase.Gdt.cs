using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest.Image;

namespace Xtf.Core.Guest;

public abstract partial class TestCase
{
    /// <summary>XTF's GDTE_AVAIL0: the first GDT slot the runtime leaves to tests.</summary>
    protected const int GdteAvail0 = HvmLayout.GdteAvail0;

    /// <summary>XTF's GDTE_AVAIL1: the second one.</summary>
    protected const int GdteAvail1 = HvmLayout.GdteAvail0 + 1;

    /// <summary>Writes a descriptor into one of the GDT slots free for tests (9-14 in HVM), as a kernel-mode store.</summary>
    protected void SetGdtEntry(int index, SegmentDescriptor descriptor) => Runtime.SetGdtEntry(index, descriptor);

    /// <summary>The selector of GDT slot <paramref name="index"/> with <paramref name="rpl"/> (SDM vol. 3, 3.4.2: index, TI = 0, RPL).</summary>
    protected static ushort GdtSelector(int index, int rpl = 0) => (ushort)((index << 3) | (rpl & 3));
}
