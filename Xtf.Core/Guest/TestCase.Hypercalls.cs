using System.Text;
using Xtf.Core.Guest.Image;
using Xtf.Core.Xen;

namespace Xtf.Core.Guest;

/// <summary>
/// XTF's hypercall wrappers (include/xtf/hypercall.h) over <see cref="Hypercall"/>. Structures
/// passed by pointer are written to the runtime's scratch page, as XTF passes pointers to its
/// stack; every call is the hypercall instruction executed at the current CPL.
/// </summary>
public abstract partial class TestCase
{
    // public/hvm/hvm_op.h, public/event_channel.h, public/xen.h.
    private const int HvmOpSetParam = 0, HvmOpGetParam = 1;
    private const int EvtchnOpSend = 4;
    private const ushort DomidSelf = 0x7FF0;

    /// <summary>HYPERVISOR_console_io(cmd, count, buffer).</summary>
    protected long HypercallConsoleIo(int command, ulong count, ulong buffer) =>
        Hypercall(HypercallNumber.ConsoleIo, (ulong)command, count, buffer);

    /// <summary>hypercall_console_write: CONSOLEIO_write of the text's bytes (Latin-1), returning Xen's result.</summary>
    protected long HypercallConsoleWrite(string text)
    {
        byte[] bytes = Encoding.Latin1.GetBytes(text);
        if (bytes.Length > HvmLayout.ScratchSize)
            throw new ArgumentException("console write larger than the scratch page", nameof(text));
        Runtime.WriteKernelBytes(HvmLayout.Scratch, bytes);
        return HypercallConsoleIo(ConsoleIoCommand.Write, (ulong)bytes.Length, HvmLayout.Scratch);
    }

    /// <summary>hypercall_sched_op(cmd, arg).</summary>
    protected long HypercallSchedOp(int command, ulong argument) => Hypercall(HypercallNumber.SchedOp, (ulong)command, argument);

    /// <summary>hypercall_shutdown: SCHEDOP_shutdown with a struct sched_shutdown; returns only if Xen refused.</summary>
    protected long HypercallShutdown(ShutdownReason reason) => Runtime.Shutdown(reason);

    /// <summary>hypercall_yield: SCHEDOP_yield with a NULL argument.</summary>
    protected long HypercallYield() => HypercallSchedOp(SchedOpCommand.Yield, 0);

    /// <summary>hypercall_xen_version(cmd, arg).</summary>
    protected long HypercallXenVersion(int command, ulong argument = 0) => Hypercall(HypercallNumber.XenVersion, (ulong)command, argument);

    /// <summary>hypercall_memory_op(cmd, arg).</summary>
    protected long HypercallMemoryOp(int command, ulong argument) => Hypercall(HypercallNumber.MemoryOp, (ulong)command, argument);

    /// <summary>hypercall_event_channel_op(cmd, arg).</summary>
    protected long HypercallEventChannelOp(int command, ulong argument) => Hypercall(HypercallNumber.EventChannelOp, (ulong)command, argument);

    /// <summary>hypercall_evtchn_send: EVTCHNOP_send with a struct evtchn_send { port }.</summary>
    protected long HypercallEvtchnSend(uint port)
    {
        Runtime.WriteKernelBytes(HvmLayout.Scratch, BitConverter.GetBytes(port));
        return HypercallEventChannelOp(EvtchnOpSend, HvmLayout.Scratch);
    }

    /// <summary>hypercall_hvm_op(cmd, arg).</summary>
    protected long HypercallHvmOp(int command, ulong argument) => Hypercall(HypercallNumber.HvmOp, (ulong)command, argument);

    /// <summary>hvm_set_param: HVMOP_set_param with xen_hvm_param_t { domid = DOMID_SELF, index, value }.</summary>
    protected long HvmSetParam(uint index, ulong value)
    {
        WriteHvmParam(index, value);
        return HypercallHvmOp(HvmOpSetParam, HvmLayout.Scratch);
    }

    /// <summary>hvm_get_param: HVMOP_get_param; <paramref name="value"/> is the parameter when the result is 0, else 0.</summary>
    protected long HvmGetParam(uint index, out ulong value)
    {
        WriteHvmParam(index, 0);
        long rc = HypercallHvmOp(HvmOpGetParam, HvmLayout.Scratch);
        value = 0;
        if (rc == 0)
        {
            for (int i = 7; i >= 0; i--)
                value = (value << 8) | Runtime.ReadKernelByte(HvmLayout.Scratch + 8 + (ulong)i);
        }

        return rc;
    }

    /// <summary>xen_hvm_param_t: domid_t domid at 0, uint32_t index at 4, uint64_t value at 8.</summary>
    private void WriteHvmParam(uint index, ulong value)
    {
        var p = new byte[16];
        BitConverter.TryWriteBytes(p.AsSpan(0), DomidSelf);
        BitConverter.TryWriteBytes(p.AsSpan(4), index);
        BitConverter.TryWriteBytes(p.AsSpan(8), value);
        Runtime.WriteKernelBytes(HvmLayout.Scratch, p);
    }
}
