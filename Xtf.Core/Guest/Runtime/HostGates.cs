namespace Xtf.Core.Guest.Runtime;

/// <summary>
/// Host gates (DESIGN.md section 2): reserved guest addresses whose instruction fetch stops the
/// CPU and hands control to a C# handler. Gates sit on two reserved pages, one supervisor and
/// one user page, 16 bytes apart, so paging and segmentation checks apply to gate fetches.
/// </summary>
public sealed class HostGates
{
    private const int GateStride = 16;
    private readonly Dictionary<ulong, (string Name, Action Handler)> gates = [];
    private readonly ulong supervisorPage;
    private readonly ulong userPage;
    private int nextSupervisor;
    private int nextUser;

    /// <summary>Gate space on two page-aligned linear addresses: <paramref name="supervisorPage"/> (U/S = 0) and <paramref name="userPage"/> (U/S = 1); each holds 256 gates.</summary>
    public HostGates(ulong supervisorPage, ulong userPage)
    {
        this.supervisorPage = supervisorPage;
        this.userPage = userPage;
    }

    /// <summary>Registers a handler and returns the guest address that invokes it.</summary>
    public ulong Register(string name, Action handler, bool user = false)
    {
        ref int next = ref user ? ref nextUser : ref nextSupervisor;
        if ((next + 1) * GateStride > 0x1000)
            throw new InvalidOperationException("host gate page full");
        ulong address = (user ? userPage : supervisorPage) + (ulong)(next++ * GateStride);
        gates[address] = (name, handler);
        return address;
    }

    /// <summary>Looks up the gate at the exact linear <paramref name="address"/>; false for an unregistered address (which the runtime treats as a crash).</summary>
    public bool TryGet(ulong address, out string name, out Action handler)
    {
        if (gates.TryGetValue(address, out var g))
        {
            (name, handler) = g;
            return true;
        }

        name = "";
        handler = () => { };
        return false;
    }
}
