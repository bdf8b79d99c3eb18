using Xtf.Core.Guest;
using Xtf.Core.Testing;

namespace Xtf.TestCases.Cpuid;

/// <summary>
/// XTF's cpuid utility (tests/cpuid/main.c): prints all CPUID information visible to the guest,
/// one line per leaf and subleaf, walking the basic leaves up to CPUID.0:EAX, the hypervisor
/// ranges at 0x40000000 and 0x40000100 up to their maxima, and the extended leaves up to
/// CPUID.80000000H:EAX. Leaves 4, 7 and 0xD are walked by subleaf (4 until a null cache type, 7 up
/// to CPUID.(7,0):EAX, 0xD over the valid XSAVE components); other leaves print subleaf ffffffff.
/// PV guests dump both: native CPUID (the processor's, which Xen does not intercept) and the
/// emulated CPUID behind the forced prefix (Xen's view, with its leaves at 0x40000000).
/// </summary>
[XtfTest("cpuid", Category.Utility, Environments.All, Title = "Guest CPUID information")]
public sealed class Cpuid : TestCase
{
    private const uint HypervisorBase = 0x40000000, Hypervisor2Base = 0x40000100, ExtendedBase = 0x80000000;

    public override void Main()
    {
        Printk("Guest cpuid information\n");
        Printk("Native cpuid:\n");
        DumpLeaves(forced: false);
        if (Runtime.IsPv)
        {
            Printk("Emulated cpuid:\n");
            DumpLeaves(forced: true);
        }

        Success();
    }

    private void DumpLeaves(bool forced)
    {
        uint leaf = 0, subleaf = ~0u;
        ulong validXstateLeaves = 0;
        uint maxLeaf = 0, maxLeaf7Subleaf = 0, maxHvLeaf = 0, maxHv2Leaf = 0, maxExtendedLeaf = 0;

        while (true)
        {
            var r = Runtime.Cpuid(leaf, subleaf, forced);
            Printk($"  {leaf:x8}:{subleaf:x8} -> {r.Eax:x8}:{r.Ebx:x8}:{r.Ecx:x8}:{r.Edx:x8}\n");

            switch (leaf)
            {
                case 0:
                    maxLeaf = r.Eax;
                    break;

                case 4:
                    // Subleaves until the cache type (EAX[4:0]) is null.
                    subleaf++;
                    if ((r.Eax & 0x1F) != 0)
                        continue;
                    break;

                case 7:
                    if (subleaf == 0)
                        maxLeaf7Subleaf = r.Eax;
                    subleaf++;
                    if (subleaf <= maxLeaf7Subleaf)
                        continue;
                    break;

                case 0xD:
                    // Subleaf 0 gives the valid XSAVE components in EDX:EAX; the rest are walked by bit.
                    if (subleaf == 0)
                        validXstateLeaves = ((ulong)r.Edx << 32) | r.Eax;
                    do
                    {
                        subleaf++;
                    }
                    while (subleaf < 63 && (validXstateLeaves & (1ul << (int)subleaf)) == 0);
                    if (subleaf < 63)
                        continue;
                    break;

                case HypervisorBase:
                    maxHvLeaf = r.Eax;
                    break;

                case Hypervisor2Base:
                    maxHv2Leaf = r.Eax;
                    break;

                case ExtendedBase:
                    maxExtendedLeaf = r.Eax;
                    break;
            }

            leaf++;
            if (leaf > 0 && leaf < HypervisorBase && leaf > maxLeaf)
                leaf = HypervisorBase;
            if (leaf > HypervisorBase && leaf < Hypervisor2Base && leaf > maxHvLeaf)
                leaf = Hypervisor2Base;
            if (leaf > Hypervisor2Base && leaf < ExtendedBase && leaf > maxHv2Leaf)
                leaf = ExtendedBase;
            if (leaf > ExtendedBase && leaf > maxExtendedLeaf)
                break;

            subleaf = leaf is 4 or 7 or 0xD ? 0 : ~0u;
        }
    }
}
