namespace Xtf.Core.Testing.Conformance;

/// <summary>Counts and failures of one MOO file.</summary>
public sealed class ConformanceFileResult
{
    private readonly Dictionary<string, int> maskCounts = new(StringComparer.Ordinal);
    private readonly List<ConformanceOutcome> failures = [];

    public ConformanceFileResult(string path) => Path = path;

    public string Path { get; }

    public int Passed { get; private set; }

    public int Failed { get; private set; }

    public int Masked { get; private set; }

    public int Revoked { get; private set; }

    /// <summary>Tests during which the emulator threw something other than an architectural fault.</summary>
    public int HostExceptions { get; private set; }

    /// <summary>How many tests each mask (by <see cref="ConformanceMask.Name"/>) took part in explaining.</summary>
    public IReadOnlyDictionary<string, int> MaskCounts => maskCounts;

    public IReadOnlyList<ConformanceOutcome> Failures => failures;

    public void Add(ConformanceOutcome outcome)
    {
        switch (outcome.Verdict)
        {
            case ConformanceVerdict.Passed:
                Passed++;
                break;
            case ConformanceVerdict.Masked:
                Masked++;
                foreach (var mask in outcome.Masks)
                    maskCounts[mask.Name] = maskCounts.GetValueOrDefault(mask.Name) + 1;
                break;
            case ConformanceVerdict.Revoked:
                Revoked++;
                break;
            default:
                Failed++;
                if (outcome.HostException is not null)
                    HostExceptions++;
                failures.Add(outcome);
                break;
        }
    }
}
