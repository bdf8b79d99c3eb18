using Xtf.Core.Guest.Runtime;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Core.Guest;

public abstract partial class TestCase
{
    /// <summary>XTF's xtf_has_fep: whether the forced emulation prefix reaches the hypervisor's emulator.</summary>
    protected bool XtfHasFep { get; private set; }

    /// <summary>XTF's test_needs_fep: the test is not worth running without FEP, and SKIPs.</summary>
    protected virtual bool NeedsFep => false;

    /// <summary>
    /// XTF's test_setup probe: <c>mov $1</c> behind the prefix, with the exception table covering
    /// the #UD a hypervisor without FEP raises. Then a test that needs FEP and lacks it skips with
    /// XTF's message.
    /// </summary>
    private void ProbeFep()
    {
        var probe = Runtime.Exec(a =>
        {
            a.xor(eax, eax);
            a.Fep();
            a.mov(eax, 1);
        });
        XtfHasFep = probe.Fault == ExInfo.None && probe.Eax == 1;
        if (NeedsFep && !XtfHasFep)
        {
            Printk("FEP unavailable, but needed by test. (Is Xen support\n");
            Skip("compiled in, and booted with 'hvm_fep'?)\n");
        }
    }
}
