using Xtf.Core.Xen.Hypercalls;
using Xtf.Core.Xen.Pv.Traps;

namespace Xtf.Core.Xen.Pv;

/// <summary>The hypercalls only PV guests have (pv_hypercall_table); the rest of the table is shared with HVM.</summary>
public static class PvHypercalls
{
    /// <summary>Runs PV-only hypercall <paramref name="number"/> for <paramref name="d"/>; returns the value for RAX (negated <see cref="XenErrno"/> on failure, -ENOSYS for a number not in the PV table).</summary>
    public static long Dispatch(PvDomain d, int number, HypercallArgs args) => number switch
    {
        HypercallNumber.SetTrapTable => TrapHypercalls.SetTrapTable(d, args),
        HypercallNumber.StackSwitch => TrapHypercalls.StackSwitch(d, args),
        HypercallNumber.SetCallbacks => TrapHypercalls.SetCallbacks(d, args),
        HypercallNumber.CallbackOp => TrapHypercalls.CallbackOp(d, args),
        HypercallNumber.Iret => PvIret.Call(d),
        HypercallNumber.MmuUpdate => MmuUpdate.Call(d, d.Mmu, args),
        HypercallNumber.UpdateVaMapping => UpdateVaMapping.Call(d, d.Mmu, args),
        HypercallNumber.UpdateVaMappingOtherdomain => UpdateVaMapping.CallOtherDomain(d, d.Mmu, args),
        HypercallNumber.MmuextOp => MmuextOp.Call(d, d.Mmu, args),
        HypercallNumber.SetGdt => Descriptors.DescriptorTables.SetGdt(d, args),
        HypercallNumber.UpdateDescriptor => Descriptors.DescriptorTables.UpdateDescriptor(d, args),
        HypercallNumber.SetSegmentBase => SetSegmentBase.Call(d, args),
        HypercallNumber.FpuTaskswitch => d.FpuTaskswitch((int)args.A1 != 0),
        HypercallNumber.SetDebugreg => PvDebugRegisters.Set(d, args),
        HypercallNumber.GetDebugreg => PvDebugRegisters.Get(d, args),
        HypercallNumber.PhysdevOp => PhysdevOp.Call(d, args),
        HypercallNumber.VmAssist => VmAssist.Call(d, args),
        _ => -XenErrno.ENOSYS,
    };
}
