namespace Xtf.Runner.New;

/// <summary>
/// Where test cases live: the <c>testcases</c> folder of the repository, which is the directory
/// holding <c>Xtf.slnx</c> (make-new-test.sh writes into its own checkout's <c>tests/</c> the same way).
/// </summary>
internal static class TestcasesDirectory
{
    /// <summary>The file that marks the repository's root.</summary>
    public const string SolutionFile = "Xtf.slnx";

    /// <summary>The folder of test cases under the root.</summary>
    public const string FolderName = "testcases";

    /// <summary>
    /// <c>ROOT/testcases</c> for the nearest directory ROOT, from <paramref name="start"/> upwards,
    /// that holds <see cref="SolutionFile"/> and a <see cref="FolderName"/> folder; null if none does.
    /// </summary>
    public static string? Find(string start)
    {
        for (var dir = new DirectoryInfo(Path.GetFullPath(start)); dir is not null; dir = dir.Parent)
        {
            string testcases = Path.Combine(dir.FullName, FolderName);
            if (File.Exists(Path.Combine(dir.FullName, SolutionFile)) && Directory.Exists(testcases))
                return testcases;
        }

        return null;
    }
}
