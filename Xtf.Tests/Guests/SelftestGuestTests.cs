using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;

namespace Xtf.Tests.Guests;

/// <summary>
/// The ported selftest runs upstream's sub-tests in upstream's order (tests/selftest/main.c
/// test_main at 453490d), driver initialisation, vsnprintf's CRLF expansion and the xenstore read
/// included; and XTF's vsnprintf output rule (common/libc/vsnprintf.c) that printk relies on.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class SelftestGuestTests
{
    private static readonly TestCatalog Catalog = TestCatalog.FromTypes(typeof(Xtf.TestCases.Selftest.Selftest));

    private static readonly Environments[] AllEnvironments =
        [Environments.Hvm32, Environments.Hvm32Pse, Environments.Hvm32Pae, Environments.Hvm64, Environments.Pv32Pae, Environments.Pv64];

    [TestCaseSource(nameof(AllEnvironments))]
    public void SelftestRunsUpstreamsSubtests(Environments env)
    {
        var test = Catalog.Find("selftest")!;
        var o = new TestEngine().Run(new TestInstance(test, env, null), new RunSettings { InstructionBudget = 20_000_000 });

        // test_main: NULL unmapped only with paging (CONFIG_PAGING_LEVELS > 0, not hvm32); the
        // xenstore read only if xenstore_init found a connected channel, which every domain here has.
        var expected = new List<string> { "Exception Table", "Userspace execution" };
        if (env != Environments.Hvm32)
            expected.Add("NULL unmapped");
        expected.AddRange(["Unhandled Exception Hook", "Exception Table Handler", "Custom IDT entry",
            "Driver basic initialisation", "vsnprintf() with CRLF expansion", "Xenstore read"]);
        Assert.Multiple(() =>
        {
            Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
            Assert.That(o.Lines.Where(l => l.StartsWith("Test: ", StringComparison.Ordinal)).Select(l => l[6..]), Is.EqualTo(expected));
            Assert.That(o.ConsoleLog, Does.Not.Contain("Fail"));

            // test_xenstore: the value is a non-empty decimal string, printed after the sub-test line.
            Assert.That(o.ConsoleLog, Does.Match(@"Test: Xenstore read\r\n  Found domid [0-9]+\r\n"));
        });
    }

    [TestCase("\n", 0u, "\n", 1, TestName = "vsnprintf without LF_TO_CRLF copies LF as it is")]
    [TestCase("\n", Vsnprintf.LfToCrlf, "\r\n", 2, TestName = "vsnprintf with LF_TO_CRLF expands LF to CRLF")]
    [TestCase("\r\n", Vsnprintf.LfToCrlf, "\r\r\n", 3, TestName = "vsnprintf with LF_TO_CRLF keeps an existing CR: CRLF becomes CR CR LF (put_char adds CR before every LF)")]
    [TestCase("abcdef", 0u, "abc", 6, TestName = "vsnprintf truncates to the buffer less the NUL and returns the full length")]
    [TestCase("a\nb", Vsnprintf.LfToCrlf, "a\r\n", 4, TestName = "vsnprintf counts the added CR in the returned length")]
    public void VsnprintfFollowsXtf(string text, uint flags, string stored, int length)
    {
        var buf = new byte[4];
        Array.Fill(buf, (byte)0xAA);
        int rc = Vsnprintf.Format(buf, text, flags);
        int nul = Array.IndexOf(buf, (byte)0);
        Assert.Multiple(() =>
        {
            Assert.That(rc, Is.EqualTo(length));
            Assert.That(nul, Is.EqualTo(stored.Length), "NUL right after the stored text");
            Assert.That(System.Text.Encoding.Latin1.GetString(buf, 0, nul), Is.EqualTo(stored));
        });
    }

    [TestCase(TestName = "vsnprintf into a zero-length buffer writes nothing and returns the length")]
    public void VsnprintfZeroLengthBuffer() =>
        Assert.That(Vsnprintf.Format(Span<byte>.Empty, "\n\n", Vsnprintf.LfToCrlf), Is.EqualTo(4));
}
