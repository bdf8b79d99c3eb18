using System.Text.RegularExpressions;
using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Guests;

/// <summary>
/// CPUID faulting as Xen offers it to HVM guests (xen/arch/x86/msr.c, hvm_vmexit_cpuid), and to PV
/// guests on hardware that has it, as this machine's does (cpu-policy.c; the checks in
/// x86_emulate's CPUID and pv_emulate_forced_invalid_op, where "kernel" is the guest kernel, ring 1
/// or ring 3, and the forced form is PV's <c>ud2a; "xen"; cpuid</c>):
/// MSR_INTEL_PLATFORM_INFO (0xCE) reads bit 31 alone and is read-only; bit 0 of
/// MSR_INTEL_MISC_FEATURES_ENABLES (0x140) enables faulting and its other bits are reserved (#GP);
/// with faulting on, CPUID at CPL 3 is #GP(0) and does not retire, natively and through the
/// forced emulation prefix, while CPL 0 is unaffected. Then the ported tests umip, cpuid-faulting
/// and cpuid in every HVM environment with FEP on and off.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class CpuidFaultingGuestTests
{
    private static readonly Environments[] HvmEnvironments = [Environments.Hvm32, Environments.Hvm32Pse, Environments.Hvm32Pae, Environments.Hvm64];

    private static readonly Environments[] AllEnvironments = [.. HvmEnvironments, Environments.Pv32Pae, Environments.Pv64];

    private const string FepMissing = "FEP support not detected - some tests will be skipped\r\n";

    public sealed class FaultingGuest : TestCase
    {
        private const uint PlatformInfo = 0xCE, MiscFeaturesEnables = 0x140;

        /// <summary>CPUID leaf 0 with EBX preset: after a fault EBX still holds the preset (the instruction did not retire).</summary>
        private static void Cpuid0(Assembler a, bool fep)
        {
            a.xor(eax, eax);
            a.mov(ebx, 0x5EED);
            if (fep)
                a.Fep();
            a.cpuid();
        }

        private void Expect(string what, ExecResult r, ExInfo fault, uint ebx)
        {
            if (r.Fault != fault || r.Ebx != ebx)
                Failure($"Fail: {what}: {r.Fault}, ebx {r.Ebx:x8}; expected {fault}, ebx {ebx:x8}\n");
        }

        public override void Main()
        {
            // CPUID.0:EBX, the first vendor bytes: Xen gives guests the host's vendor (cpu-policy.c).
            uint genu = CpuidLeaves.Native(0, 0).Ebx;
            var gp0 = ExInfo.Fault(X86Vector.GP, 0);

            if (!TryRdmsr(PlatformInfo, out ulong platformInfo) || platformInfo != 1ul << 31)
                Failure($"Fail: PLATFORM_INFO reads {platformInfo:x}, expected 80000000 (CPUID faulting supported only)\n");
            if (TryWrmsr(PlatformInfo, 1ul << 31))
                Failure("Fail: WRMSR of the read-only PLATFORM_INFO did not fault\n");
            if (!TryRdmsr(MiscFeaturesEnables, out ulong enables) || enables != 0)
                Failure($"Fail: MISC_FEATURES_ENABLES reads {enables:x} at start, expected 0\n");
            foreach (ulong reserved in new[] { 1ul << 1, 1ul << 31, 1ul << 32, 1ul << 63, 3ul })
            {
                if (TryWrmsr(MiscFeaturesEnables, reserved))
                    Failure($"Fail: WRMSR of MISC_FEATURES_ENABLES with reserved bits ({reserved:x}) did not fault\n");
            }

            foreach (bool fep in new[] { false, true })
                Expect($"user cpuid (fep {fep}) before enabling", ExecUserDetailed(a => Cpuid0(a, fep)), ExInfo.None, genu);

            if (!TryWrmsr(MiscFeaturesEnables, 1) || !TryRdmsr(MiscFeaturesEnables, out enables) || enables != 1)
                Failure($"Fail: enabling CPUID faulting: MISC_FEATURES_ENABLES reads {enables:x}\n");

            foreach (bool fep in new[] { false, true })
            {
                Expect($"kernel cpuid (fep {fep}) with faulting", ExecDetailed(a => Cpuid0(a, fep)), ExInfo.None, genu);
                Expect($"user cpuid (fep {fep}) with faulting", ExecUserDetailed(a => Cpuid0(a, fep)), gp0, 0x5EED);
            }

            if (!TryWrmsr(MiscFeaturesEnables, 0))
                Failure("Fail: disabling CPUID faulting faulted\n");
            foreach (bool fep in new[] { false, true })
                Expect($"user cpuid (fep {fep}) after disabling", ExecUserDetailed(a => Cpuid0(a, fep)), ExInfo.None, genu);

            Success();
        }
    }

    [TestCaseSource(nameof(AllEnvironments))]
    public void MsrsAndCpuidFaultFollowXen(Environments env)
    {
        var o = GuestHarness.Run<FaultingGuest>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
    }

    private static readonly TestCatalog Catalog = TestCatalog.FromTypes(
        typeof(Xtf.TestCases.Umip.Umip), typeof(Xtf.TestCases.CpuidFaulting.CpuidFaulting), typeof(Xtf.TestCases.Cpuid.Cpuid));

    private static InstanceOutcome RunCatalog(string name, Environments env, bool fep)
    {
        var test = Catalog.Find(name) ?? throw new AssertionException($"{name} not in the catalog");
        return new TestEngine().Run(new TestInstance(test, env, null), new RunSettings { Fep = fep, InstructionBudget = 20_000_000 });
    }

    public static IEnumerable<TestCaseData> Rows()
    {
        foreach (var env in HvmEnvironments)
        {
            foreach (bool fep in new[] { true, false })
            {
                if (env is Environments.Hvm32 or Environments.Hvm64)
                    yield return new TestCaseData("umip", env, fep, fep ? TestResult.Success : TestResult.Skip);
                yield return new TestCaseData("cpuid-faulting", env, fep, fep ? TestResult.Success : TestResult.Skip);
                yield return new TestCaseData("cpuid", env, fep, TestResult.Success);
            }
        }

        // PV: no FEP, but the PV-forced CPUID is checked instead, so the test runs whole (upstream's
        // IS_DEFINED(CONFIG_PV) rows).
        foreach (var env in (Environments[])[Environments.Pv32Pae, Environments.Pv64])
        {
            yield return new TestCaseData("cpuid-faulting", env, false, TestResult.Success);
            yield return new TestCaseData("cpuid", env, false, TestResult.Success);
        }
    }

    [TestCaseSource(nameof(Rows))]
    public void PortedTestsPassOrSkipWithoutFep(string name, Environments env, bool fep, TestResult expected)
    {
        var o = RunCatalog(name, env, fep);
        Assert.That(o.Result, Is.EqualTo(expected), o.ConsoleLog + o.Diagnostic);
        if (expected == TestResult.Skip)
        {
            // XTF's message first, then the native half still ran and passed: no failure lines.
            Assert.That(o.ConsoleLog, Does.Contain(FepMissing));
            Assert.That(o.ConsoleLog, Does.Not.Contain("Fail"));
        }
    }

    /// <summary>The lines <c>  leaf:subleaf -&gt; eax:ebx:ecx:edx</c> of one dump of the cpuid utility (tests/cpuid/main.c dump_leaves), by leaf and subleaf.</summary>
    private static Dictionary<(uint Leaf, uint Subleaf), CpuidResult> ParseDump(string dump)
    {
        var leaves = new Dictionary<(uint, uint), CpuidResult>();
        foreach (Match m in Regex.Matches(
            dump, @"^  ([0-9a-f]{8}):([0-9a-f]{8}) -> ([0-9a-f]{8}):([0-9a-f]{8}):([0-9a-f]{8}):([0-9a-f]{8})\r$", RegexOptions.Multiline))
        {
            uint Hex(int group) => Convert.ToUInt32(m.Groups[group].Value, 16);
            leaves[(Hex(1), Hex(2))] = new CpuidResult(Hex(3), Hex(4), Hex(5), Hex(6));
        }

        return leaves;
    }

    // Xen's policy for an HVM (HAP) guest, derived from the processor's CPUID the way Xen derives it,
    // so the expectations follow the hardware rather than restate it:
    // - xen/include/xen/lib/x86/cpu-policy.h: CPUID_GUEST_NR_BASIC = 0xd + 1, CPUID_GUEST_NR_FEAT = 2 + 1;
    //   xen/arch/x86/cpu-policy.c calculate_host_policy clamps basic.max_leaf and feat.max_subleaf to
    //   those arrays, and the default policies keep the host's values (max_leaf/max_subleaf lines
    //   of the default-policy setup); the vendor string is the host's.
    // - xen/include/public/arch-x86/cpufeatureset.h word 6 (CPUID.(7,0):ECX): the bits an HVM HAP
    //   guest sees by default are those marked 'A' (all guests), 'S' (all HVM) and 'H' (HVM HAP):
    //   PREFETCHWT1 0, AVX512_VBMI 1, UMIP 2 (S), PKU 3 (H), AVX512_VBMI2 6, GFNI 8, VAES 9,
    //   VPCLMULQDQ 10, AVX512_VNNI 11, AVX512_BITALG 12, AVX512_VPOPCNTDQ 14, RDPID 22, CLDEMOTE 25,
    //   PKS 31 (H); the guest gets host & that mask.
    private const uint GuestMaxBasicLeaf = 0xD, GuestMaxLeaf7Subleaf = 2;

    private const uint HvmHapLeaf7EcxDefault = (1u << 0) | (1u << 1) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 8) | (1u << 9)
        | (1u << 10) | (1u << 11) | (1u << 12) | (1u << 14) | (1u << 22) | (1u << 25) | (1u << 31);

    // The public ABI (xen/include/public/arch-x86/cpuid.h): Xen's leaves start at 0x40000000, or
    // 0x40000100 when viridian is on ("If viridian extensions are enabled for an HVM domain, the Xen
    // cpuid leaves will start at 0x40000100"); leaf 0 has EAX = base + XEN_CPUID_MAX_NUM_LEAVES (5,
    // cpuid.c cpuid_hypervisor_leaves with no toolstack limit) and the signature "XenVMMXenVMM";
    // leaf 2 EBX is the hypercall-page MSR, 0x40000200 with viridian (cpuid_hypervisor_leaves).
    private const uint XenCpuidFirstLeaf = 0x40000000, XenCpuidMaxNumLeaves = 5;

    private const uint SignatureEbx = 0x566e6558, SignatureEcx = 0x65584d4d, SignatureEdx = 0x4d4d566e;

    private static CpuidResult XenSignatureLeaf(uint xenBase) => new(xenBase + XenCpuidMaxNumLeaves, SignatureEbx, SignatureEcx, SignatureEdx);

    [TestCaseSource(nameof(HvmEnvironments))]
    public void CpuidUtilityPrintsXensPolicyOfTheProcessor(Environments env)
    {
        var o = RunCatalog("cpuid", env, fep: true);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog);
        Assert.That(o.ConsoleLog, Does.Contain("Guest cpuid information\r\nNative cpuid:\r\n"));
        var leaves = ParseDump(o.ConsoleLog);
        var hw0 = CpuidLeaves.Native(0, 0);
        var hw7 = CpuidLeaves.Native(7, 0);
        const uint xenBase = XenCpuidFirstLeaf + 0x100;
        Assert.Multiple(() =>
        {
            Assert.That(leaves[(0, ~0u)], Is.EqualTo(hw0 with { Eax = Math.Min(hw0.Eax, GuestMaxBasicLeaf) }), "leaf 0: the host's vendor, max leaf clamped by Xen");

            // Leaf 7 is walked by subleaf from 0 (dump_leaves), up to the max subleaf Xen offers.
            var leaf7 = leaves[(7, 0)];
            Assert.That(leaf7.Eax, Is.EqualTo(Math.Min(hw7.Eax, GuestMaxLeaf7Subleaf)), "leaf 7 max subleaf");
            Assert.That(leaf7.Ecx, Is.EqualTo(hw7.Ecx & HvmHapLeaf7EcxDefault), "leaf 7 ECX: host & Xen's HVM HAP default");

            // The cpuid test's extra.cfg.in has viridian = 1: 0x40000000 is Hyper-V's signature leaf
            // (viridian.c cpuid_viridian_leaves: max leaf 0x40000006, "Microsoft Hv"), Xen's moved up.
            Assert.That(leaves[(XenCpuidFirstLeaf, ~0u)], Is.EqualTo(new CpuidResult(0x40000006, 0x7263694d, 0x666f736f, 0x76482074)), "Hyper-V's leaves first");
            Assert.That(leaves[(xenBase, ~0u)], Is.EqualTo(XenSignatureLeaf(xenBase)), "Xen's signature leaf at 0x40000100");
            Assert.That(leaves[(xenBase + 2, ~0u)].Ebx, Is.EqualTo(0x40000200u), "hypercall MSR moved out of the viridian range");

            // dump_leaves walks Xen's leaf 3 (the time leaf) over subleaves 0-2 and leaf 4 at
            // subleaf 0; Xen's other leaves print subleaf ffffffff.
            foreach (uint sub in (uint[])[0, 1, 2])
                Assert.That(leaves.ContainsKey((xenBase + 3, sub)), Is.True, $"Xen leaf 3 subleaf {sub}");
            Assert.That(leaves.ContainsKey((xenBase + 3, ~0u)) || leaves.ContainsKey((xenBase + 3, 3)), Is.False, "Xen leaf 3 only at subleaves 0-2");
            Assert.That(leaves.ContainsKey((xenBase + 4, 0)) && !leaves.ContainsKey((xenBase + 4, 1)), Is.True, "Xen leaf 4 at subleaf 0 only");

            // Leaf 4 (HVM, subleaf 0): XEN_HVM_CPUID_VCPU_ID_PRESENT and DOMID_PRESENT are set, with
            // the vCPU id (0) in EBX and the domain id in ECX (cpuid_hypervisor_leaves).
            var xen4 = leaves[(xenBase + 4, 0)];
            Assert.That(xen4.Eax & ((1u << 3) | (1u << 4)), Is.EqualTo((1u << 3) | (1u << 4)), "vcpu and domid present");
            Assert.That(xen4.Ebx, Is.Zero, "vcpu 0");
        });
    }

    [XtfTest("extra-cfg-unknown", Category.Utility, Environments.Hvm64, ExtraConfig = "shadow_memory = 8\n")]
    public sealed class UnmodelledExtraConfig : TestCase
    {
        public override void Main() => Success();
    }

    [Test]
    public void ExtraConfigKeyNotModelledIsRefusedNotIgnored()
    {
        // A cfg key the toolstack does not model would change the domain upstream runs in: the
        // instance must not pass silently without it.
        var catalog = TestCatalog.FromTypes(typeof(UnmodelledExtraConfig));
        var o = new TestEngine().Run(new TestInstance(catalog.Find("extra-cfg-unknown")!, Environments.Hvm64, null));
        Assert.That(o.Result, Is.EqualTo(TestResult.Crash));
        Assert.That(o.Diagnostic, Does.Contain("shadow_memory"));
    }

    [TestCase(Environments.Pv32Pae)]
    [TestCase(Environments.Pv64)]
    public void PvNativeCpuidIsXensPolicy(Environments env)
    {
        // Xen runs PV domains with the hardware's CPUID faulting on (ctxt_switch_levelling), so a PV
        // guest's plain CPUID is answered from the domain's policy, Xen's leaves at 0x40000000 included,
        // exactly as the forced form: both dumps of the cpuid utility are the same.
        var o = RunCatalog("cpuid", env, fep: false);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog);
        string log = o.ConsoleLog;
        int native = log.IndexOf("Native cpuid:\r\n", StringComparison.Ordinal);
        int emulated = log.IndexOf("Emulated cpuid:\r\n", StringComparison.Ordinal);
        Assert.That(native, Is.GreaterThan(0));
        Assert.That(emulated, Is.GreaterThan(native));
        string nativeDump = log[(native + "Native cpuid:\r\n".Length)..emulated];
        string emulatedDump = log[(emulated + "Emulated cpuid:\r\n".Length)..];
        // PV: libxl ignores viridian, so Xen's leaves are at 0x40000000.
        Assert.That(ParseDump(nativeDump)[(XenCpuidFirstLeaf, ~0u)], Is.EqualTo(XenSignatureLeaf(XenCpuidFirstLeaf)), "XenVMMXenVMM natively");
        Assert.That(emulatedDump, Does.StartWith(nativeDump));
    }
}
