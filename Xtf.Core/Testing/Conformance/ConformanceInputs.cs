namespace Xtf.Core.Testing.Conformance;

/// <summary>
/// Where conformance inputs live: MOO files named directly or found in directories, and for each
/// file the suite's <c>metadata.json</c> and <c>revocation_list.txt</c>, looked for beside the file
/// and then one directory up (the layout of the SingleStepTests repositories).
/// </summary>
public sealed class ConformanceInputs
{
    private readonly Dictionary<string, (ConformanceMetadata, RevocationList)> byDirectory = new(StringComparer.Ordinal);

    /// <summary>The MOO files named by <paramref name="paths"/>: files as given, directories' <c>*.MOO</c>/<c>*.MOO.gz</c> in name order.</summary>
    public static IReadOnlyList<string> ExpandPaths(IEnumerable<string> paths)
    {
        var files = new List<string>();
        foreach (string path in paths)
        {
            if (File.Exists(path))
            {
                files.Add(path);
            }
            else if (Directory.Exists(path))
            {
                var found = Directory.EnumerateFiles(path)
                    .Where(IsMooFile)
                    .Order(StringComparer.Ordinal)
                    .ToList();
                if (found.Count == 0)
                    throw new ConformanceDataException($"{path}: no .MOO or .MOO.gz files in this directory");
                files.AddRange(found);
            }
            else
            {
                throw new ConformanceDataException($"{path}: no such file or directory");
            }
        }

        return files;
    }

    /// <summary>Whether the name ends in <c>.MOO</c> or <c>.MOO.gz</c>, in any case (upstream ships <c>.MOO.gz</c>).</summary>
    public static bool IsMooFile(string path) =>
        path.EndsWith(".moo", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".moo.gz", StringComparison.OrdinalIgnoreCase);

    /// <summary>The metadata and revocation list that apply to <paramref name="mooFile"/> (loaded once per directory).</summary>
    public (ConformanceMetadata Metadata, RevocationList Revocations) For(string mooFile)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(mooFile)) ?? ".";
        if (byDirectory.TryGetValue(directory, out var cached))
            return cached;
        string metadataPath = Locate(directory, ConformanceMetadata.FileName)
            ?? throw new ConformanceDataException($"{mooFile}: no {ConformanceMetadata.FileName} beside it or in its parent directory (it gives the undefined-flag masks)");
        string? revocationPath = Locate(directory, RevocationList.FileName);
        var pair = (ConformanceMetadata.Load(metadataPath), revocationPath is null ? RevocationList.Empty : RevocationList.Load(revocationPath));
        byDirectory[directory] = pair;
        return pair;
    }

    private static string? Locate(string directory, string name)
    {
        string here = Path.Combine(directory, name);
        if (File.Exists(here))
            return here;
        string? parent = Path.GetDirectoryName(directory);
        string up = parent is null ? here : Path.Combine(parent, name);
        return File.Exists(up) ? up : null;
    }
}
