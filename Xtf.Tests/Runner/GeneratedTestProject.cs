using System.Diagnostics;
using System.Reflection;
using NUnit.Framework;
using Xtf.Runner.New;

namespace Xtf.Tests.Runner;

/// <summary>
/// A throw-away project outside the repository that compiles test cases written by
/// <c>xtf-runner new</c> as testcases/ is compiled: the repository's Directory.Build.props
/// (warnings as errors, analyzers, code style) and .editorconfig, against the Xtf.Core.dll these
/// tests already run on (a HintPath reference, so nothing of the repository is rebuilt), restored
/// offline (no package source). Its bin/ and obj/ are in the temporary directory.
/// </summary>
internal sealed class GeneratedTestProject : IDisposable
{
    private const string AssemblyName = "Xtf.Generated";

    private static readonly TimeSpan BuildLimit = TimeSpan.FromMinutes(10);

    public GeneratedTestProject()
    {
        Root = Directory.CreateTempSubdirectory("xtf-new-build-").FullName;
        Testcases = Directory.CreateDirectory(Path.Combine(Root, "testcases")).FullName;
    }

    /// <summary>The project directory (deleted on dispose).</summary>
    public string Root { get; }

    /// <summary>Where the test cases go: <c>xtf-runner new NAME --dir Testcases</c>.</summary>
    public string Testcases { get; }

    /// <summary>
    /// Builds the project with <c>dotnet build</c>; returns the exit code and what it printed.
    /// </summary>
    public (int Exit, string Output) Build()
    {
        string repository = Path.GetDirectoryName(TestcasesDirectory.Find(AppContext.BaseDirectory)
            ?? throw new InvalidOperationException($"no repository ({TestcasesDirectory.SolutionFile}) above {AppContext.BaseDirectory}"))!;
        File.Copy(Path.Combine(repository, "Directory.Build.props"), Path.Combine(Root, "Directory.Build.props"));
        File.Copy(Path.Combine(repository, ".editorconfig"), Path.Combine(Root, ".editorconfig"));
        File.WriteAllText(Path.Combine(Root, "NuGet.config"),
            "<configuration>\n  <packageSources>\n    <clear />\n  </packageSources>\n</configuration>\n");
        string bin = AppContext.BaseDirectory;
        File.WriteAllText(Path.Combine(Root, AssemblyName + ".csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <RootNamespace>Xtf.TestCases</RootNamespace>
              </PropertyGroup>
              <ItemGroup>
                <Reference Include="Xtf.Core" HintPath="{Path.Combine(bin, "Xtf.Core.dll")}" Private="false" />
                <Reference Include="Iced" HintPath="{Path.Combine(bin, "Iced.dll")}" Private="false" />
              </ItemGroup>
            </Project>
            """);

        // No build server or node is left running after the build.
        var build = DotnetProcess.Run(
            ["build", AssemblyName + ".csproj", "-c", "Release", "-nodeReuse:false", "-p:UseSharedCompilation=false", "-v:q", "--nologo"],
            BuildLimit,
            start =>
            {
                start.WorkingDirectory = Root;

                // The test host may carry MSBuild's settings for the repository's build; this build is its own.
                foreach (string key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
                    start.Environment.Remove(key);
            });
        return (build.ExitCode, build.Stdout + build.Stderr);
    }

    /// <summary>The built assembly, loaded from its bytes (its references resolve to the Xtf.Core already loaded).</summary>
    public Assembly Load() =>
        Assembly.Load(File.ReadAllBytes(Path.Combine(Root, "bin", "Release", "net10.0", AssemblyName + ".dll")));

    public void Dispose() => Directory.Delete(Root, recursive: true);

}
