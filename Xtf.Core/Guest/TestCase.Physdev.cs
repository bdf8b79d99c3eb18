using Xtf.Core.Guest.Image;
using Xtf.Core.Xen;

namespace Xtf.Core.Guest;

/// <summary>XTF's physdev_op and vm_assist wrappers, and a PV guest's start_info command line.</summary>
public abstract partial class TestCase
{
    /// <summary>PHYSDEVOP_set_iopl (public/physdev.h).</summary>
    protected const int PhysdevOpSetIopl = 6;

    /// <summary>VMASST_CMD_enable / VMASST_CMD_disable and VMASST_TYPE_architectural_iopl (public/xen.h).</summary>
    protected const uint VmAssistCmdEnable = 0, VmAssistCmdDisable = 1, VmAssistTypeArchitecturalIopl = 4;

    /// <summary>hypercall_physdev_op(cmd, arg).</summary>
    protected long HypercallPhysdevOp(int command, ulong argument) => Hypercall(HypercallNumber.PhysdevOp, (ulong)command, argument);

    /// <summary>hypercall_physdev_op(PHYSDEVOP_set_iopl, &amp;iopl): struct physdev_set_iopl { uint32_t iopl; } in kernel memory.</summary>
    protected long HypercallPhysdevSetIopl(uint iopl)
    {
        Runtime.WriteKernelBytes(HvmLayout.Scratch, BitConverter.GetBytes(iopl));
        return HypercallPhysdevOp(PhysdevOpSetIopl, HvmLayout.Scratch);
    }

    /// <summary>hypercall_vm_assist(cmd, type).</summary>
    protected long HypercallVmAssist(uint command, uint type) => Hypercall(HypercallNumber.VmAssist, command, type);

    /// <summary>
    /// XTF's <c>pv_start_info-&gt;cmd_line</c>: the NUL-terminated command line (at most 1024
    /// bytes) at offset 128 (pv64) or 80 (compat) of start_info, read as the kernel would.
    /// </summary>
    protected string PvCommandLine()
    {
        if (!Runtime.IsPv)
            throw new InvalidOperationException("start_info exists for PV guests only");
        int pointerBytes = Bitness == 64 ? 8 : 4;
        ulong startInfo = 0;
        for (int i = pointerBytes - 1; i >= 0; i--)
            startInfo = (startInfo << 8) | Runtime.ReadKernelByte(PvLayout.StartInfoSlot + (ulong)i);
        ulong line = startInfo + (ulong)(Bitness == 64 ? 128 : 80);
        var text = new System.Text.StringBuilder();
        for (ulong i = 0; i < 1024; i++)
        {
            byte b = Runtime.ReadKernelByte(line + i);
            if (b == 0)
                break;
            text.Append((char)b);
        }

        return text.ToString();
    }
}
