using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Xen;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Core.Testing.Fuzzing;

/// <summary>
/// The guest of the <c>hvm</c> and <c>pv</c> fuzz modes. Its variation is the iteration seed; it
/// makes a few random operations, each one of: a hypercall of a random number (0..63) with random
/// arguments through the hypercall page, from CPL 0 or CPL 3; or a snippet of random valid and
/// system instructions (<see cref="RandomInstructions"/>, FEP included) at CPL 0 or CPL 3, with
/// every exception recorded (XTF's ex_record_fault). It reports SUCCESS if it gets to the end;
/// anything else it does to itself (a CRASH, a shutdown, a spent budget) is an architectural
/// outcome. Only a host exception or a hang is a finding.
/// </summary>
internal sealed class FuzzGuest : TestCase
{
    public const int Operations = 6;

    private Random rng = new(0);

    public override void Main()
    {
        rng = FuzzSeeds.RandomFor(ulong.Parse(Variation ?? "0", System.Globalization.CultureInfo.InvariantCulture));
        for (int op = 0; op < Operations; op++)
        {
            switch (rng.Next(4))
            {
                case 0:
                    _ = ExecDetailed(RandomHypercall());
                    break;
                case 1:
                    _ = ExecUserDetailed(RandomHypercall());
                    break;
                case 2:
                    byte[] kernel = RandomInstructions.Stream(rng, Bitness, rng.Next(1, 64));
                    _ = ExecDetailed(c => c.db(kernel));
                    break;
                default:
                    byte[] user = RandomInstructions.Stream(rng, Bitness, rng.Next(1, 64));
                    _ = ExecUserDetailed(c => c.db(user));
                    break;
            }
        }

        Success();
    }

    /// <summary>A call into the hypercall page's slot for a random number, arguments small, counts, pointers into and out of the guest, or anything.</summary>
    private Action<Iced.Intel.Assembler> RandomHypercall()
    {
        int nr = rng.Next(64);
        var args = new HypercallArgs(Value(), Value(), Value(), Value(), Value());
        if ((nr == HypercallNumber.SchedOp || nr == HypercallNumber.SchedOpCompat) && rng.Next(8) != 0)
            args = args with { A1 = SchedOpCommand.Yield };
        ulong stub = HvmLayout.HypercallPage + (ulong)(nr * HypercallPage.SlotSize);
        return c =>
        {
            HypercallRegisters.Load(c, args);
            c.mov(eax, nr);
            if (c.Bitness == 64)
                c.call(stub);
            else
                c.call((uint)stub);
        };
    }

    private ulong Value() => rng.Next(5) switch
    {
        0 => (ulong)rng.Next(16),
        1 => rng.Next(2) == 0 ? 0xFFFFFFFF : 0xFFFFFFFFFFFFFFFF,
        2 => HvmLayout.ImageBase + (ulong)rng.Next(0x100000),
        3 => (ulong)rng.Next() << rng.Next(33),
        _ => (ulong)rng.NextInt64() ^ ((ulong)rng.Next(2) << 63),
    };
}
