using NUnit.Framework;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Pv.Memory;
using static Xtf.Tests.Xen.Pv.PvMmuTestDomain;

namespace Xtf.Tests.Xen.Pv;

/// <summary>
/// Nothing a guest passes may throw in the host: seeded random arguments and request contents
/// for the three MMU hypercalls, on both ABIs, must each return 0 or a -errno, and the type
/// counts stay consistent with the tables (every page table still typed, no negative count).
/// </summary>
[TestFixture]
public sealed class MmuRobustnessTests
{
    [TestCase(true, 1)]
    [TestCase(true, 2)]
    [TestCase(false, 3)]
    [TestCase(false, 4)]
    public void RandomArguments_NeverThrow_AndReturnZeroOrErrno(bool is64Bit, int seed)
    {
        var d = new PvMmuTestDomain(is64Bit);
        Assert.That(d.Boot(), Is.Zero);
        var rng = new Random(seed);
        int[] numbers = [HypercallNumber.MmuUpdate, HypercallNumber.UpdateVaMapping, HypercallNumber.UpdateVaMappingOtherdomain, HypercallNumber.MmuextOp];

        // Mostly plausible values (guest frames 0-520, table slots, flag bits), some wild ones.
        ulong Frame() => rng.Next(4) == 0 ? (ulong)rng.NextInt64() : (ulong)rng.Next(0, 521);
        ulong Entry() => (Frame() << 12) | (ulong)(uint)rng.Next(0, 0x1000) | (rng.Next(8) == 0 ? (ulong)(uint)rng.Next() << 52 : 0);
        ulong Wild() => rng.Next(3) switch
        {
            0 => (ulong)rng.NextInt64(),
            1 => Reqs + (ulong)rng.Next(0, 0x2000),
            _ => (ulong)rng.Next(0, 64),
        };

        for (int n = 0; n < 3000; n++)
        {
            var body = new byte[256];
            for (int i = 0; i < body.Length; i += 8)
            {
                ulong v = (i / 8 % 2) == 0
                    ? (Frame() << 12) + ((ulong)rng.Next(0, 512) * 8) + (ulong)rng.Next(0, 4)
                    : Entry();
                if (rng.Next(2) == 0 && (i / 8 % 3) == 0)
                    v = (ulong)(uint)rng.Next(0, 21) | ((ulong)(uint)rng.Next() << 32);
                BitConverter.TryWriteBytes(body.AsSpan(i), v);
            }

            d.Write(Reqs, body);
            int number = numbers[rng.Next(numbers.Length)];
            ulong a1 = rng.Next(4) == 0 ? Wild() : Reqs;
            ulong a2 = rng.Next(2) == 0 ? (ulong)rng.Next(0, 20) : Wild();
            ulong a3 = rng.Next(2) == 0 ? DonePtr : Wild();
            ulong a4 = rng.Next(2) == 0 ? ReservedDomainId.Self : Wild();
            if (number is HypercallNumber.UpdateVaMapping or HypercallNumber.UpdateVaMappingOtherdomain)
            {
                a1 = (ulong)rng.Next(0, 0x200) << 12;
                a2 = Entry();
                a3 = (ulong)rng.Next(0, 8);
            }

            long rc = 0;
            Assert.DoesNotThrow(() => rc = d.Call(number, a1, a2, a3, a4, Wild()), $"call {n}: {number}({a1:x}, {a2:x}, {a3:x}, {a4:x})");
            Assert.That(rc, Is.LessThanOrEqualTo(0).Or.EqualTo((long)(uint)a4), $"call {n}");
        }

        var f = d.Mm.Frames;
        for (ulong mfn = 0; mfn < f.FrameCount; mfn++)
            Assert.That(f.TypeCount(mfn), Is.GreaterThanOrEqualTo(0), $"frame {mfn}");
    }
}
