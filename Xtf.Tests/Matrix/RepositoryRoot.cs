namespace Xtf.Tests.Matrix;

/// <summary>The checkout the tests were built in: the first directory above the test assembly that holds <c>xtf.runsettings</c>.</summary>
public static class RepositoryRoot
{
    /// <summary>The repository root, or null when the assembly runs outside a checkout.</summary>
    public static string? Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "xtf.runsettings")))
                return dir.FullName;
        }

        return null;
    }
}
