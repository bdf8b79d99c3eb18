using Xtf.Core.Testing.Conformance;

namespace Xtf.Runner;

/// <summary>
/// <c>xtf-runner conformance PATH...</c>: runs SingleStepTests MOO files and prints one line per
/// file, the masks that excused differences (with their reasons) and a total line. Exit code 0 only
/// if no test failed; a malformed or unreadable input is one <c>Error: ...</c> line and exit 1.
/// </summary>
internal sealed class ConformanceCommand
{
    /// <summary>The command's word: <c>xtf-runner conformance PATH...</c>.</summary>
    public const string Name = "conformance";

    /// <summary>Exit code when at least one test failed (xtf-runner's FAILURE).</summary>
    public const int FailureExitCode = 5;

    private readonly TextWriter stdout;

    public ConformanceCommand(TextWriter stdout) => this.stdout = stdout;

    /// <exception cref="ConformanceDataException">An input cannot be read or does not follow the format.</exception>
    public int Run(IReadOnlyList<string> paths, bool verbose)
    {
        var files = ConformanceInputs.ExpandPaths(paths);
        var inputs = new ConformanceInputs();
        int passed = 0, failed = 0, masked = 0, revoked = 0;
        var maskCounts = new Dictionary<string, int>(StringComparer.Ordinal);

        foreach (string path in files)
        {
            var moo = MooReader.ReadFile(path);
            var (metadata, revocations) = inputs.For(path);
            var result = new ConformanceRunner(metadata, revocations).RunFile(path, moo);

            string line = $"{path}: {result.Passed} passed, {result.Failed} failed, {result.Masked} masked";
            if (result.Revoked > 0)
                line += $", {result.Revoked} revoked";
            stdout.WriteLine(line);
            if (verbose)
            {
                foreach (var failure in result.Failures)
                    stdout.WriteLine($"  FAILED {failure.Describe()}");
            }

            passed += result.Passed;
            failed += result.Failed;
            masked += result.Masked;
            revoked += result.Revoked;
            foreach (var (name, count) in result.MaskCounts)
                maskCounts[name] = maskCounts.GetValueOrDefault(name) + count;
        }

        foreach (var mask in ConformanceMasks.All)
        {
            if (maskCounts.TryGetValue(mask.Name, out int count))
                stdout.WriteLine($"masked {count} by {mask.Name}: {mask.Reason}");
        }

        string total = $"{passed} passed, {failed} failed, {masked} masked";
        if (revoked > 0)
            total += $", {revoked} revoked";
        stdout.WriteLine(total);
        return failed == 0 ? 0 : FailureExitCode;
    }
}
