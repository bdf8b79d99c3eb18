namespace Xtf.Core.Testing.Conformance;

/// <summary>Counts and failures of one MOO file.</summary>
public sealed class ConformanceFileResult
{
    private readonly Dictionary<string, int> maskCounts = new(StringComparer.Ordinal);
    private readonly List<ConformanceOutcome> failures = [];

    /// <summary>An empty tally for the MOO file at <paramref name="path"/>.</summary>
    public ConformanceFileResult(string path) => Path = path;

    /// <summary>The MOO file's path as given to the constructor (not normalised), for reports.</summary>
    public string Path { get; }

    /// <summary>Tests whose final registers and RAM matched the capture (FLAGS under the metadata.json flags mask).</summary>
    public int Passed { get; private set; }

    /// <summary>Tests with a difference no mask explains, host exceptions included; each is in <see cref="Failures"/>.</summary>
    public int Failed { get; private set; }

    /// <summary>Tests whose differences a <see cref="ConformanceMask"/> explains (see <see cref="MaskCounts"/>).</summary>
    public int Masked { get; private set; }

    /// <summary>Tests whose HASH is in the suite's revocation_list.txt: not run.</summary>
    public int Revoked { get; private set; }

    /// <summary>Tests during which the emulator threw something other than an architectural fault.</summary>
    public int HostExceptions { get; private set; }

    /// <summary>How many tests each mask (by <see cref="ConformanceMask.Name"/>) took part in explaining.</summary>
    public IReadOnlyDictionary<string, int> MaskCounts => maskCounts;

    /// <summary>The failed outcomes, in the order they were added (file order when filled by <see cref="ConformanceRunner.RunFile"/>).</summary>
    public IReadOnlyList<ConformanceOutcome> Failures => failures;

    /// <summary>Counts <paramref name="outcome"/> under its verdict; a masked one also counts once for each of its masks.</summary>
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
