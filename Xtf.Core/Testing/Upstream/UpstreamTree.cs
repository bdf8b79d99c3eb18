using System.Text.Json;
using Xtf.Core.Guest;

namespace Xtf.Core.Testing.Upstream;

/// <summary>Where one upstream test lives: <c>tests/NAME/</c> of an XTF build or install tree, holding its info.json, images and cfg files.</summary>
/// <param name="Directory">The test's directory (absolute).</param>
public sealed record UpstreamTest(string Directory)
{
    /// <summary>xtf-runner's <c>TestInstance.cfg_path</c>: <c>tests/NAME/&lt;instance id&gt;.cfg</c>.</summary>
    public string CfgPath(TestInstance instance) => Path.Combine(Directory, instance.Id + ".cfg");

    /// <summary>The image beside the cfg files: <c>test-ENV-NAME</c> (variations share their environment's image).</summary>
    public string ImagePath(TestInstance instance) =>
        Path.Combine(Directory, $"test-{GuestEnvironment.Name(instance.Environment)}-{instance.Test.Name}");
}

/// <summary>
/// An upstream XTF tree, as xtf-runner reads it (get_all_test_info): every <c>tests/*/info.json</c>
/// of a build tree or a <c>make install</c> tree (both lay tests out so). A directory without an
/// info.json is not a test; an info.json xtf-runner would refuse (bad JSON, a missing or mistyped
/// key, an unknown category or environment, no environments, a name other than its directory's)
/// is skipped, as upstream skips it, and listed in <see cref="Skipped"/> so the runner can say so.
/// </summary>
public sealed class UpstreamTree
{
    private UpstreamTree(string root, IReadOnlyList<TestDescriptor> tests, IReadOnlyList<string> skipped)
    {
        Root = root;
        Tests = tests;
        Skipped = skipped;
    }

    /// <summary>The tree's top directory (absolute).</summary>
    public string Root { get; }

    /// <summary>The tests found, sorted by name.</summary>
    public IReadOnlyList<TestDescriptor> Tests { get; }

    /// <summary>One line per info.json skipped: its path and why.</summary>
    public IReadOnlyList<string> Skipped { get; }

    /// <summary>
    /// Reads the tree at <paramref name="directory"/> (its <c>tests/</c> subdirectory; a directory
    /// that is itself the <c>tests/</c> directory is accepted too). Throws <see cref="UpstreamTreeException"/>
    /// if it does not exist or holds no test at all.
    /// </summary>
    public static UpstreamTree Open(string directory)
    {
        string root = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(root))
            throw new UpstreamTreeException($"XTF directory '{directory}' does not exist");
        string tests = Path.Combine(root, "tests");
        if (!System.IO.Directory.Exists(tests))
            tests = root;

        var found = new List<TestDescriptor>();
        var skipped = new List<string>();
        string[] dirs;
        try
        {
            dirs = System.IO.Directory.GetDirectories(tests);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UpstreamTreeException($"XTF directory '{directory}' cannot be read: {e.Message}");
        }

        foreach (string dir in dirs.Order(StringComparer.Ordinal))
        {
            string info = Path.Combine(dir, "info.json");
            if (!File.Exists(info))
                continue;
            try
            {
                found.Add(Describe(File.ReadAllText(info), Path.GetFileName(dir), dir));
            }
            catch (Exception e) when (e is JsonException or FormatException or IOException or UnauthorizedAccessException)
            {
                skipped.Add($"{info}: {e.Message}");
            }
        }

        if (found.Count == 0)
            throw new UpstreamTreeException($"XTF directory '{directory}' has no tests/*/info.json: point --xtf-dir at an XTF build or install tree");
        return new UpstreamTree(root, found, skipped);
    }

    /// <summary>upstream TestInfo.__init__'s checks, then info.name == the directory's name.</summary>
    internal static TestDescriptor Describe(string json, string directoryName, string directory)
    {
        using var doc = JsonDocument.Parse(json);
        var o = doc.RootElement;
        if (o.ValueKind != JsonValueKind.Object)
            throw new FormatException("not a JSON object");
        string name = StringKey(o, "name");
        string cat = StringKey(o, "category");
        if (!Categories.TryParse(cat, out var category))
            throw new FormatException($"Unknown category '{cat}'");
        var envs = Environments.None;
        var envList = ListKey(o, "environments");
        if (envList.Count == 0)
            throw new FormatException("Expected at least one environment");
        foreach (string env in envList)
            envs |= GuestEnvironment.TryParse(env, out var e) ? e : throw new FormatException($"Unknown environments '{env}'");
        var variations = ListKey(o, "variations");
        if (name != directoryName)
            throw new FormatException($"name '{name}' is not its directory's ('{directoryName}')");
        return new TestDescriptor(name, category, envs, "", variations, null) { Upstream = new UpstreamTest(directory) };
    }

    private static string StringKey(JsonElement o, string key) =>
        o.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()!
        : throw new FormatException($"Expected string for '{key}'");

    private static List<string> ListKey(JsonElement o, string key)
    {
        if (!o.TryGetProperty(key, out var v) || v.ValueKind != JsonValueKind.Array)
            throw new FormatException($"Expected list for '{key}'");
        return [.. v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : throw new FormatException($"Expected strings in '{key}'"))];
    }
}

/// <summary>An <c>--xtf-dir</c> that is not a usable XTF tree (a runner error).</summary>
public sealed class UpstreamTreeException(string message) : Exception(message);
