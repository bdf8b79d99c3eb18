using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Testing;

namespace Xtf.TestCases.Cpuid;

/// <summary>
/// XTF's cpuid utility (tests/cpuid/main.c at 453490d, with its extra.cfg.in): prints all CPUID
/// information visible to the guest, one line per leaf and subleaf, walking the basic leaves up
/// to CPUID.0:EAX, the hypervisor ranges at 0x40000000 and 0x40000100 up to their maxima, and the
/// extended leaves up to CPUID.80000000H:EAX. Leaves 4, 7 and 0xD are walked by subleaf (4 until a
/// null cache type, 7 up to CPUID.(7,0):EAX, 0xD over the valid XSAVE components), and so are
/// Xen's leaves where a range starts with the "XenVMMXenVMM" signature: Xen's leaf 3 (the time
/// leaf) over subleaves 0-2 ("Max leaf hardcoded") and Xen's leaf 4 at subleaf 0; other leaves
/// print subleaf ffffffff. PV guests dump both native CPUID and the emulated CPUID behind the
/// forced prefix. As upstream's extra.cfg.in, every HVM instance runs with <c>viridian = 1</c>, so
/// 0x40000000 holds the Hyper-V leaves and Xen's follow at 0x40000100 (ignored for PV).
/// It differs from upstream only in where the values come from: our processor and Xen model.
/// </summary>
[XtfTest("cpuid", Category.Utility, Environments.All, Title = "Guest cpuid information", ExtraConfig = "# Enable viridian for HVM domains\nviridian = 1\n")]
public sealed class Cpuid : TestCase
{
    private const uint HypervisorBase = 0x40000000, Hypervisor2Base = 0x40000100, ExtendedBase = 0x80000000;

    public override void Main()
    {
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
        uint xenFirstLeaf = ~0u, xenLastLeaf = 0;

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
                    if (IsXenSignature(r))
                        (xenFirstLeaf, xenLastLeaf) = (leaf, r.Eax);
                    break;

                case Hypervisor2Base:
                    maxHv2Leaf = r.Eax;
                    if (IsXenSignature(r))
                        (xenFirstLeaf, xenLastLeaf) = (leaf, r.Eax);
                    break;

                case ExtendedBase:
                    maxExtendedLeaf = r.Eax;
                    break;
            }

            // The Xen leaves have no documented identification of max leaf: Xen's leaf 3 has
            // subleaves 0-2 (public/arch-x86/cpuid.h, the time leaf); leaf 4 is walked from subleaf 0 only.
            if (leaf >= xenFirstLeaf && leaf <= xenLastLeaf && leaf - xenFirstLeaf == 3 && subleaf < 2)
            {
                subleaf++;
                continue;
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

            bool xenSubleafLeaf = leaf >= xenFirstLeaf && leaf <= xenLastLeaf && (leaf - xenFirstLeaf) is 3 or 4;
            subleaf = leaf is 4 or 7 or 0xD || xenSubleafLeaf ? 0 : ~0u;
        }
    }

    /// <summary>XEN_CPUID_SIGNATURE_EBX/ECX/EDX: "XenVMMXenVMM" (public/arch-x86/cpuid.h).</summary>
    private static bool IsXenSignature(CpuidResult r) => r is { Ebx: 0x566e6558, Ecx: 0x65584d4d, Edx: 0x4d4d566e };
}
