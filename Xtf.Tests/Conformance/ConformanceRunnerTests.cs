using NUnit.Framework;
using Xtf.Core.Testing.Conformance;
using Xtf.Tests.Runner;

namespace Xtf.Tests.Conformance;

/// <summary>The runner's comparison, its masks, and <c>xtf-runner conformance</c> on files made here.</summary>
[TestFixture]
public sealed class ConformanceRunnerTests
{
    private string dir = null!;

    [SetUp]
    public void CreateDirectory()
    {
        dir = Path.Combine(Path.GetTempPath(), "xtf-conformance-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, ConformanceMetadata.FileName), """{ "opcodes": { "04": { "status": "normal" } } }""");
    }

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(dir, recursive: true);

    // add al,5 with AL = 0FEh: 0FEh + 5 = 103h -> AL 03h, CF, AF (Eh + 5 carries out of bit 3); PF (03h has two bits).
    private static RealModeCase AddAl(ushort expectedAx = 0x0003) =>
        new RealModeCase("add al,5").Init(MooRegister.AX, 0x00FE).Code(0x04, 0x05)
            .Final(MooRegister.AX, expectedAx).Final(MooRegister.Flags, 0x0017).Final(MooRegister.IP, 0x103);

    [Test(Description = "A test whose capture matches passes; a wrong register is a failure naming it")]
    public void ComparesRegisters()
    {
        var runner = new ConformanceRunner();
        Assert.That(runner.Run(AddAl().Build()).Verdict, Is.EqualTo(ConformanceVerdict.Passed));
        var wrong = runner.Run(AddAl(0x0004).Build());
        Assert.That(wrong.Verdict, Is.EqualTo(ConformanceVerdict.Failed));
        Assert.That(wrong.Describe(), Does.Contain("ax: expected 0004, got 0003"));
    }

    [Test(Description = "A write the capture does not list is a failure (RAM is compared frame by frame)")]
    public void UnlistedWriteFails()
    {
        // mov [0010h],al stores 0FEh at 30010h, but the expected state says nothing changed.
        var t = new RealModeCase("mov [0010h],al").Init(MooRegister.AX, 0xFE).Code(0xA2, 0x10, 0x00).InitRam(0x30010, 0)
            .Final(MooRegister.IP, 0x104).Build();
        var outcome = new ConformanceRunner().Run(t);
        Assert.That(outcome.Verdict, Is.EqualTo(ConformanceVerdict.Failed));
        Assert.That(outcome.Describe(), Does.Contain("ram[030010]: expected 00, got fe"));
    }

    [Test(Description = "POPF loading IOPL/NT in real mode is masked (the 286 keeps them clear), and counted as masked")]
    public void PopfIoplIsMasked()
    {
        // popf of 7003h: the 286 ends with flags 0003 (IOPL and NT cannot be set in real mode).
        var t = new RealModeCase("popf").Code(0x9D).InitRam(0x20100, 0x03, 0x70)
            .Final(MooRegister.Flags, 0x0003).Final(MooRegister.SP, 0x102).Final(MooRegister.IP, 0x102).Build();
        var outcome = new ConformanceRunner().Run(t);
        Assert.That(outcome.Verdict, Is.EqualTo(ConformanceVerdict.Masked), outcome.Describe());
        Assert.That(outcome.Masks.Select(m => m.Name), Is.EqualTo(new[] { "real-mode-iopl-nt" }));
    }

    [Test(Description = "xtf-runner conformance prints one line per file and a total line; exit 0 when nothing failed")]
    public void CliSummary()
    {
        string file = Path.Combine(dir, "04.MOO.gz");
        File.WriteAllBytes(file, MooBuilder.Gzip(MooBuilder.File([AddAl().Build(0), AddAl().Build(10)])));

        var run = RunnerHarness.Run("conformance", dir);

        Assert.That(run.StderrLines, Is.Empty);
        Assert.That(run.StdoutLines, Is.EqualTo(new[] { $"{file}: 2 passed, 0 failed, 0 masked", "2 passed, 0 failed, 0 masked" }));
        Assert.That(run.ExitCode, Is.Zero);
    }

    [Test(Description = "A failing test makes the exit code non-zero (FAILURE)")]
    public void CliFailureExitCode()
    {
        string file = Path.Combine(dir, "04.MOO");
        File.WriteAllBytes(file, MooBuilder.File([AddAl(0x0004).Build()]));
        var run = RunnerHarness.Run("conformance", file);
        Assert.That(run.StdoutLines[^1], Is.EqualTo("0 passed, 1 failed, 0 masked"));
        Assert.That(run.ExitCode, Is.EqualTo(5));
    }

    [Test(Description = "A truncated MOO file is one Error: line on stderr and exit 1, no stack trace")]
    public void CliTruncatedFile()
    {
        string file = Path.Combine(dir, "04.MOO.gz");
        byte[] gz = MooBuilder.Gzip(MooBuilder.File([AddAl().Build()]));
        File.WriteAllBytes(file, gz.AsSpan(0, gz.Length / 2).ToArray());

        var run = RunnerHarness.Run("conformance", file);

        Assert.That(run.ExitCode, Is.EqualTo(1));
        Assert.That(run.StderrLines, Has.Length.EqualTo(1));
        Assert.That(run.StderrLines[0], Does.StartWith($"Error: {file}: "));
        Assert.That(run.Stderr, Does.Not.Contain("   at "));
    }

    [Test(Description = "A missing path is one Error: line and exit 1")]
    public void CliMissingPath()
    {
        var run = RunnerHarness.Run("conformance", Path.Combine(dir, "nope"));
        Assert.That(run.ExitCode, Is.EqualTo(1));
        Assert.That(run.StderrLines, Is.EqualTo(new[] { $"Error: {Path.Combine(dir, "nope")}: no such file or directory" }));
    }

    [Test(Description = "The default command still takes a selection: 'conformance' only names the subcommand")]
    public void DefaultCommandUnchanged()
    {
        var run = RunnerHarness.Run("--list", "selftest");
        Assert.That(run.ExitCode, Is.Zero);
        Assert.That(run.StdoutLines, Is.Not.Empty);
    }
}
