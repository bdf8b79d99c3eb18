namespace Xtf.Core.Testing.Conformance;

/// <summary>
/// <c>revocation_list.txt</c>: hashes (40 hex digits, one per line, <c>#</c> comments) of tests
/// upstream found to be bad. Revoked tests are skipped, not run.
/// </summary>
public sealed class RevocationList
{
    public const string FileName = "revocation_list.txt";

    private readonly HashSet<string> hashes;

    private RevocationList(HashSet<string> hashes) => this.hashes = hashes;

    public static RevocationList Empty { get; } = new([]);

    public int Count => hashes.Count;

    public bool IsRevoked(MooTest test) => hashes.Contains(test.HashHex);

    public static RevocationList Load(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConformanceDataException($"{path}: cannot read revocation list: {e.Message}", e);
        }

        var set = new HashSet<string>(StringComparer.Ordinal);
        for (int n = 0; n < lines.Length; n++)
        {
            string line = lines[n].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            if (line.Length != 40 || !line.All(char.IsAsciiHexDigit))
                throw new ConformanceDataException($"{path}, line {n + 1}: '{line}' is not a 40-digit SHA-1 hash");
            set.Add(line.ToLowerInvariant());
        }

        return new RevocationList(set);
    }
}
