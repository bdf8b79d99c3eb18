using Xtf.Core.Machine;

namespace Xtf.Core.Xen.Viridian;

/// <summary>
/// A viridian domain's state and its synthetic MSRs (struct viridian_domain and, for the one
/// vCPU, struct viridian_vcpu; xen/arch/x86/hvm/viridian/viridian.c guest_{rd,wr}msr_viridian,
/// time.c viridian_time_{rd,wr}msr, synic.c viridian_synic_{rd,wr}msr). A false return is
/// X86EMUL_EXCEPTION, which the guest sees as #GP(0). The features are read from
/// HVM_PARAM_VIRIDIAN at each access, as viridian_feature_mask(d) is.
/// </summary>
/// <remarks>
/// Not modelled: the APIC access MSRs (EOI, ICR, TPR: there is no local APIC yet, so they are
/// #GP), synthetic timers that expire (the STIMER MSRs keep their values but no timer runs, so
/// no message is ever delivered), the APIC assist and the time-reference freeze/thaw on pause
/// and migration. Hypercalls through the page are <see cref="ViridianHypercall"/>.
/// </remarks>
public sealed class ViridianDomain
{
    private readonly PhysicalMemory memory;
    private readonly Func<ViridianFeatures> features;
    private readonly Func<ulong> guestTsc;
    private readonly Action crashNotify;
    private readonly ulong[] crashParam = new ulong[5];
    private readonly ulong[] sint = new ulong[16];
    private readonly ulong[] stimerConfig = new ulong[4];
    private readonly ulong[] stimerCount = new ulong[4];
    private ulong scontrol, siefp;

    /// <summary>
    /// State for a domain whose memory is <paramref name="memory"/>; <paramref name="features"/>
    /// gives HVM_PARAM_VIRIDIAN, <paramref name="guestTsc"/> the vCPU's TSC (hvm_get_guest_tsc),
    /// and <paramref name="crashNotify"/> sets the domain's shutdown code to SHUTDOWN_crash.
    /// </summary>
    public ViridianDomain(PhysicalMemory memory, Func<ViridianFeatures> features, Func<ulong> guestTsc, Action crashNotify)
    {
        this.memory = memory;
        this.features = features;
        this.guestTsc = guestTsc;
        this.crashNotify = crashNotify;
        ReferenceTscPage = new ViridianPage(memory);
        VpAssist = new ViridianPage(memory);
        SynicMessagePage = new ViridianPage(memory);
        // viridian_synic_vcpu_init: "all synthetic interrupts must be initally masked" (hv_synic_sint.masked, bit 16).
        Array.Fill(sint, SintMasked);
    }

    private const ulong SintMasked = 1ul << 16;

    /// <summary>HVM_PARAM_VIRIDIAN now.</summary>
    public ViridianFeatures Features => features();

    /// <summary>is_viridian_domain: the base group is on.</summary>
    public bool Enabled => (Features & ViridianFeatures.BaseFreq) != 0;

    /// <summary>vd-&gt;guest_os_id.raw.</summary>
    public ulong GuestOsId { get; private set; }

    /// <summary>vd-&gt;hypercall_gpa.raw (enabled bit 0, pfn 59:12).</summary>
    public ulong HypercallGpa { get; private set; }

    /// <summary>vd-&gt;reference_tsc.</summary>
    public ViridianPage ReferenceTscPage { get; }

    /// <summary>vv-&gt;vp_assist.</summary>
    public ViridianPage VpAssist { get; }

    /// <summary>vv-&gt;simp.</summary>
    public ViridianPage SynicMessagePage { get; }

    /// <summary>
    /// vd-&gt;time_ref_count.off: set when the domain is first unpaused (time_ref_count_thaw) to
    /// val - trc_val(d, 0) with val 0 and the guest TSC 0 at that point, so 0 here.
    /// </summary>
    public long TimeRefCountOffset => 0;

    private bool Has(ViridianFeatures f) => (Features & f) != 0;

    /// <summary>time_ref_count: hv_scale_tsc(guest TSC, scale, off).</summary>
    public ulong TimeRefCount => ReferenceTsc.ScaleTsc(guestTsc(), ReferenceTsc.Scale, TimeRefCountOffset);

    /// <summary>guest_rdmsr_viridian.</summary>
    public bool TryRead(uint msr, out ulong value)
    {
        value = 0;
        switch (msr)
        {
            case ViridianMsr.GuestOsId:
                value = GuestOsId;
                return true;
            case ViridianMsr.Hypercall:
                value = HypercallGpa;
                return true;
            case ViridianMsr.VpIndex:
                value = 0;                      // v->vcpu_id
                return true;

            // time.c viridian_time_rdmsr.
            case ViridianMsr.TscFrequency:
                value = ReferenceTsc.TscKhz * 1000;
                return !Has(ViridianFeatures.NoFreq);
            case ViridianMsr.ApicFrequency:
                value = 1_000_000_000ul / ReferenceTsc.ApicBusCycleNs;
                return !Has(ViridianFeatures.NoFreq);
            case ViridianMsr.ReferenceTsc:
                value = ReferenceTscPage.Msr;
                return Has(ViridianFeatures.ReferenceTsc);
            case ViridianMsr.TimeRefCount:
                if (!Has(ViridianFeatures.TimeRefCount))
                    return false;
                value = TimeRefCount;
                return true;
            case >= ViridianMsr.Stimer0Config and <= ViridianMsr.Stimer3Count:
                {
                    int x = (int)(msr - ViridianMsr.Stimer0Config) / 2;
                    // No timer expires here, so a single-shot timer is never pending and keeps its enable bit.
                    value = (msr & 1) == 0 ? stimerConfig[x] : stimerCount[x];
                    return Has(ViridianFeatures.Stimer);
                }

            // synic.c viridian_synic_rdmsr.
            case ViridianMsr.VpAssistPage:
                value = VpAssist.Msr;
                return true;
            case ViridianMsr.Scontrol:
                value = scontrol;
                return Has(ViridianFeatures.Synic);
            case ViridianMsr.Sversion:
                value = 1;                      // "the version number is 0x00000001"
                return Has(ViridianFeatures.Synic);
            case ViridianMsr.Siefp:
                value = siefp;
                return Has(ViridianFeatures.Synic);
            case ViridianMsr.Simp:
                value = SynicMessagePage.Msr;
                return Has(ViridianFeatures.Synic);
            case ViridianMsr.Eom:
                return Has(ViridianFeatures.Synic);
            case >= ViridianMsr.Sint0 and <= ViridianMsr.Sint0 + 15:
                value = sint[msr - ViridianMsr.Sint0];
                return Has(ViridianFeatures.Synic);

            case >= ViridianMsr.CrashP0 and < ViridianMsr.CrashCtl:
                value = crashParam[msr - ViridianMsr.CrashP0];
                return true;
            case ViridianMsr.CrashCtl:
                value = ViridianMsr.CrashNotify;
                return true;

            // EOI is never readable; ICR and TPR need the local APIC (not modelled); anything else is unimplemented.
            default:
                return false;
        }
    }

    /// <summary>guest_wrmsr_viridian.</summary>
    public bool TryWrite(uint msr, ulong value)
    {
        switch (msr)
        {
            case ViridianMsr.GuestOsId:
                GuestOsId = value;
                return true;
            case ViridianMsr.Hypercall:
                HypercallGpa = value;
                if ((value & 1) != 0)
                    EnableHypercallPage((value >> 12) & ((1ul << 48) - 1));
                return true;
            case ViridianMsr.VpIndex:
                return true;

            // time.c viridian_time_wrmsr: the frequency MSRs and the reference counter are read-only.
            case ViridianMsr.ReferenceTsc:
                if (!Has(ViridianFeatures.ReferenceTsc))
                    return false;
                ReferenceTscPage.Unmap();
                ReferenceTscPage.Msr = value;
                if (ReferenceTscPage.Enabled)
                {
                    ReferenceTscPage.Map();
                    ReferenceTsc.Initialize(ReferenceTscPage, TimeRefCountOffset);
                }

                return true;
            case >= ViridianMsr.Stimer0Config and <= ViridianMsr.Stimer3Count:
                return Has(ViridianFeatures.Stimer) && WriteStimer(msr, value);

            // synic.c viridian_synic_wrmsr.
            case ViridianMsr.VpAssistPage:
                VpAssist.Unmap();
                VpAssist.Msr = value;
                if (VpAssist.Enabled)
                    VpAssist.Map();
                return true;
            case ViridianMsr.Scontrol when Has(ViridianFeatures.Synic):
                scontrol = value;
                return true;
            case ViridianMsr.Siefp when Has(ViridianFeatures.Synic):
                siefp = value;
                return true;
            case ViridianMsr.Simp when Has(ViridianFeatures.Synic):
                SynicMessagePage.Unmap();
                SynicMessagePage.Msr = value;
                if (SynicMessagePage.Enabled)
                    SynicMessagePage.Map();
                return true;
            case ViridianMsr.Eom when Has(ViridianFeatures.Synic):
                return true;
            case >= ViridianMsr.Sint0 and <= ViridianMsr.Sint0 + 15 when Has(ViridianFeatures.Synic):
                // "Vectors must be in the range 0x10-0xff inclusive" (hv_synic_sint.vector, bits 7:0).
                if ((value & 0xFF) < 0x10)
                    return false;
                sint[msr - ViridianMsr.Sint0] = value;
                return true;

            case >= ViridianMsr.CrashP0 and < ViridianMsr.CrashCtl:
                crashParam[msr - ViridianMsr.CrashP0] = value;
                return true;
            case ViridianMsr.CrashCtl:
                // CrashNotify sets d->shutdown_code = SHUTDOWN_crash; the domain runs on until it shuts down.
                if ((value & ViridianMsr.CrashNotify) != 0)
                    crashNotify();
                return true;

            // SVERSION is read-only, the SynIC MSRs need the synic group, EOI/ICR/TPR the local APIC.
            default:
                return false;
        }
    }

    /// <summary>
    /// time.c, the STIMER CONFIG and COUNT writes: a config with SINTx (bits 19:16) 0 or a count
    /// of 0 cannot stay enabled (bit 0); a non-zero count sets enable when auto_enable (bit 3) is
    /// set. Starting the timer is not modelled (see the remarks).
    /// </summary>
    private bool WriteStimer(uint msr, ulong value)
    {
        int x = (int)(msr - ViridianMsr.Stimer0Config) / 2;
        if ((msr & 1) == 0)
        {
            if (((value >> 16) & 0xF) == 0 || stimerCount[x] == 0)
                value &= ~1ul;
            stimerConfig[x] = value;
        }
        else
        {
            stimerCount[x] = value;
            if (value == 0)
                stimerConfig[x] &= ~1ul;
            else if ((stimerConfig[x] & (1ul << 3)) != 0)
                stimerConfig[x] |= 1;
        }

        return true;
    }

    /// <summary>
    /// enable_hypercall_page: on a frame of the domain's RAM, <c>orl $0x80000000, %eax</c> (bit 31
    /// tells viridian hypercalls from Xen's), <c>vmcall</c> (the host is Intel), <c>ret</c>, and int3
    /// to the end of the page. A frame that is not RAM is "Bad GMFN": logged, nothing written.
    /// </summary>
    private void EnableHypercallPage(ulong gfn)
    {
        if (!memory.IsPopulated(gfn))
            return;
        var page = new byte[PhysicalMemory.FrameSize];
        Array.Fill(page, (byte)0xCC);
        byte[] stub = [0x0D, 0x00, 0x00, 0x00, 0x80, 0x0F, 0x01, 0xC1, 0xC3];
        stub.CopyTo(page, 0);
        memory.Write(gfn * PhysicalMemory.FrameSize, page);
    }
}
